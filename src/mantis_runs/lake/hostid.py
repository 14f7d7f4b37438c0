"""The host id: who ships a data dir's runs into the lake (``host_id`` in every row and in the
Delta app transaction ``mantis-runs:<host_id>``).

Generated once (a random UUID, never the hostname) and stored in ``<data dir>/ship/host_id``;
``--host-id`` or ``MANTIS_HOST_ID`` override it. Two data dirs that ship with one id (a cloned
volume) are told apart by the ship protocol (``ship.check_not_cloned``), not here.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from ..errors import UsageError
from ..log.locks import fsync_dir

ENV_HOST_ID: Final = "MANTIS_HOST_ID"
SHIP_DIR: Final = "ship"
HOST_ID_FILE: Final = "host_id"
_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


def ship_dir(data_dir: Path) -> Path:
    return data_dir / SHIP_DIR


def checked(host_id: str, source: str) -> str:
    if not _VALID.match(host_id):
        raise UsageError(f"{source} must be 1 to 64 letters, digits, '.', '_' or '-' (starting "
                         f"with a letter or digit), got {host_id!r}")
    return host_id


def stored(data_dir: Path) -> str | None:
    """The id stored in the data dir, or None when there is none yet."""
    try:
        text = (ship_dir(data_dir) / HOST_ID_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return checked(text, str(ship_dir(data_dir) / HOST_ID_FILE))


def resolve(data_dir: Path, explicit: str | None = None,
            env: Mapping[str, str] | None = None, *, create: bool = True) -> str | None:
    """``explicit``, else ``$MANTIS_HOST_ID``, else the stored id, else a new one (stored with
    fsync and rename, so a crash leaves either no id or the whole id). None only when nothing
    is stored and ``create`` is False (a dry run creates nothing)."""
    env = os.environ if env is None else env
    if explicit:
        return checked(explicit, "--host-id")
    if env.get(ENV_HOST_ID):
        return checked(env[ENV_HOST_ID], ENV_HOST_ID)
    found = stored(data_dir)
    if found is not None or not create:
        return found
    folder = ship_dir(data_dir)
    folder.mkdir(exist_ok=True)
    new = uuid.uuid4().hex
    tmp = folder / f".{HOST_ID_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, (new + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:  # another shipper may have won the race: keep its id
        os.link(tmp, folder / HOST_ID_FILE)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    fsync_dir(folder)
    return stored(data_dir)
