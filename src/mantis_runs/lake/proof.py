"""The proof of which run_ids a lake table holds twice, kept beside the table.

A whole history read in place (stats.whole) needs the run_ids with more than one copy among the
files read (db/shared_ids.py); over ten million rows that scan is seconds of CPU, paid by each
reader once per set of files (its user cache folder). ``mantis runs lake compact`` writes the
answer for the table's version it leaves (:func:`write_proof`), as
``_mantis/shared-run-ids/<digest>.json`` under the table's root (a folder Delta leaves alone:
its name starts with ``_``), where ``<digest>`` names the exact set of data files (each path and
size). A reader computes the digest of the files of the version it reads and asks for that one
object (:func:`read_proof`): a later ship or compaction changes the files, hence the name, so a
stale proof is never found; a proof that is missing, unreadable, of another format or of
other files is ignored, and the reader scans as before. Delta data files never change, so a
proof for a set of files holds for ever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Final

#: Version of the proof's content; a change makes old proofs unused.
FORMAT: Final = 1
#: Where proofs live, under the table's root.
FOLDER: Final = "_mantis/shared-run-ids"


def files_digest(files: Iterable[tuple[str, int]]) -> str:
    """The digest of a set of data files (each path in the table and size)."""
    digest = hashlib.sha256(f"mantis shared-run-ids {FORMAT}\n".encode())
    for path, size in sorted(set(files)):
        digest.update(f"{path}\0{int(size)}\n".encode())
    return digest.hexdigest()


def proof_path(digest: str) -> str:
    return f"{FOLDER}/{digest}.json"


def read_proof(store: Any, files: Iterable[tuple[str, int]]) -> list[str] | None:
    """The run_ids with two or more copies among ``files`` (every data file of the version
    read), from the proof beside the table (``store``: deltalake's file system handler of
    the table), or None when there is no valid proof for exactly those files."""
    digest = files_digest(files)
    try:
        src = store.open_input_file(proof_path(digest))
        try:
            value = json.loads(src.read())
        finally:
            src.close()
    except Exception:  # missing (the store's own error), unreadable, not JSON: no proof
        return None
    if not (isinstance(value, dict) and value.get("format") == FORMAT
            and value.get("files") == digest and isinstance(value.get("shared"), list)
            and all(isinstance(v, str) for v in value["shared"])):
        return None
    return list(value["shared"])


def write_proof(dt: Any) -> str:
    """Find the run_ids the current version of the table ``dt`` holds twice and write the
    proof for its files (older proofs removed); the proof's path."""
    import duckdb

    from ..db.lake_source import LAKE_RELATION
    from ..db.sqlfiles import load
    from .table import file_sizes

    actions = dt.get_add_actions(flatten=True)
    files = list(file_sizes(actions).items())
    con = duckdb.connect()
    try:
        con.register(LAKE_RELATION, dt.to_pyarrow_dataset())
        shared = [str(r[0]) for r in con.execute(load("lake_shared_run_ids")).fetchall()]
    finally:
        con.close()
    digest = files_digest(files)
    store = _store(dt)
    out = store.open_output_stream(proof_path(digest), None)
    try:
        out.write(json.dumps({"format": FORMAT, "files": digest, "version": dt.version(),
                              "shared": shared}).encode())
    finally:
        out.close()
    _remove_others(store, digest)
    return proof_path(digest)


def _store(dt: Any) -> Any:
    from deltalake._internal import DeltaFileSystemHandler

    return DeltaFileSystemHandler.from_table(dt._table, None, None)


def _remove_others(store: Any, digest: str) -> None:
    """Remove the proofs of other sets of files (older versions: a reader of one of those
    reads its files and scans; a proof is only a shortcut)."""
    try:
        found = store.get_file_info_selector(FOLDER, True, False)
    except Exception:
        return
    for info in found:
        path = str(getattr(info, "path", ""))
        if path.endswith(".json") and not path.endswith(f"{digest}.json"):
            try:
                store.delete_file(path)
            except Exception:
                continue
