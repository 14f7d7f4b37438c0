"""``mantis runs lake init URI``: create the table once, before any host ships (concurrent
first writes race on the table's metadata; ``ship`` never creates it)."""

from __future__ import annotations

from dataclasses import dataclass

from .storage import NoLake, Target, failure
from .table import PARTITION, TABLE_NAME, description, lake_schema, open_table, properties


@dataclass(frozen=True)
class InitResult:
    uri: str
    created: bool  # False: a table with this layout was already there


def init(target: Target) -> InitResult:
    """Create the table at ``target``; a table already there with this layout is left as it
    is, one with another layout (or none of ours) is refused (``LakeError``)."""
    try:
        open_table(target)
        return InitResult(target.uri, created=False)
    except NoLake:
        pass
    from deltalake import DeltaTable

    if not target.remote:
        import os

        os.makedirs(target.uri.removeprefix("file://"), exist_ok=True)
    try:
        DeltaTable.create(target.uri, schema=lake_schema(), mode="error",
                          partition_by=[PARTITION], name=TABLE_NAME,
                          description=description(),
                          configuration=properties(), storage_options=target.options or None)
    except Exception as exc:
        if "already exists" in str(exc).lower():  # another init won the race: check it
            open_table(target)
            return InitResult(target.uri, created=False)
        raise failure(exc, target, "cannot create the lake table") from None
    open_table(target)  # what was created reads back with our layout
    return InitResult(target.uri, created=True)
