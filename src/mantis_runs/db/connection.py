"""DuckDB connections and consistent file snapshots, shared by every reader and the compactor.

Facts every query relies on (measured, see docs/storage-format.md):

* ``read_json`` always gets explicit ``columns`` and ``format='newline_delimited'`` with
  ``ignore_errors=true``; a bad line comes back as an all-NULL row, which is counted and dropped.
* The file list is computed from the months a query can touch; DuckDB never gets a glob that
  may match nothing (that is an error, not an empty result).
* Every connection runs ``SET TimeZone='UTC'`` (the config key fails at connect time).
* Every value is a bound parameter, including the file lists and the column schema.
* A connection that runs SQL a user wrote (RunStore's views: ``mantis runs sql``, ``list``,
  ``show``, ``report``, ``watch``; ``RunStore.connect``) is locked down (``lock_down``): it reads
  only the files of its snapshot, writes none, and its settings are fixed; ``check_read_only``
  refuses a statement that is not a query. What that allows: docs/sql.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import MantisError, UsageError, one_line
from ..log import schema
from ..log.layout import PUBLISH_INTENT, PUBLISH_LOCK, MonthFiles, check_data_dir, scan
from ..log.locks import LockTimeout, shared_if_present
from . import engine
from .sqlfiles import load

#: DuckDB's buffer-manager limit for queries; RSS stays within a small multiple of it.
QUERY_MEMORY_LIMIT = "160MB"
#: The limit for queries over the views (RunStore, `mantis runs sql|list|show|report|watch`):
#: typing whole JSON rows and ranking repeated run_ids needs more than `stats` does (160MB failed
#: at 100,000 runs; a 2M-run store needs about 300-430 MB RSS), and DuckDB spills beyond it.
VIEW_MEMORY_LIMIT = "1GB"
#: How long a reader waits for a compactor that is publishing (it holds the lock for milliseconds).
PUBLISH_LOCK_TIMEOUT_S = 60.0

PathLike = str | os.PathLike[str]


_GLOB_CHARS = {"*": "[*]", "?": "[?]", "[": "[[]"}


def duckdb_path(path: str | os.PathLike[str]) -> str:
    """A file name as DuckDB's readers must be given it: they expand ``*``, ``?`` and ``[...]``
    in every name, so a data dir called ``runs*`` would also read ``runs-old``. Each such
    character becomes a one-character class that matches only itself."""
    text = os.fspath(path)
    if not any(c in text for c in _GLOB_CHARS):
        return text
    return "".join(_GLOB_CHARS.get(c, c) for c in text)


#: The macros every connection has: numpy's percentiles and the rules shared by every reader.
BASE_MACROS = ("macro_lerp", "macro_quantile_sorted", "macro_quantile", "macro_percentiles",
               "macro_finite", "macro_group_value")


def connect(*, memory_limit: str = QUERY_MEMORY_LIMIT, threads: int | None = None,
            temp_directory: Path | None = None) -> engine.DuckDBPyConnection:
    """An in-memory DuckDB connection set up the way every mantis query expects."""
    config: dict[str, Any] = {
        "memory_limit": memory_limit,
        # No network here or in many deployments: never try to download an extension.
        "autoinstall_known_extensions": False,
    }
    if threads is not None:
        config["threads"] = threads
    con = engine.connect(config=config)
    con.execute("SET TimeZone = 'UTC'")
    # Results are ordered explicitly wherever order matters; not preserving scan order lets
    # DuckDB stream JSON with far smaller buffers.
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_progress_bar = false")  # no bar on stderr for queries over 2 s
    for macro in BASE_MACROS:
        con.execute(load(macro))
    if temp_directory is None:  # DuckDB's default is ".tmp" in the current directory
        # Never a fixed name in the shared temp dir: another user could create it first and
        # read (or replace) the spilled rows. A new private folder, removed with the connection
        # (when the last relation of it is gone too) or at exit.
        try:
            temp_directory = private_temp_dir(DUCKDB_TEMP_PREFIX)
        except OSError:  # no writable temp dir: no spilling (beyond the limit is out of memory)
            con.execute("SET temp_directory = ''")
            return con
        weakref.finalize(con, _remove_private, temp_directory, os.getpid())
    con.execute("SET temp_directory = $dir", {"dir": str(temp_directory)})
    return con


def _remove_private(folder: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child that exits: the folder is its parent's
        shutil.rmtree(folder, ignore_errors=True)


#: Readers' DuckDB spill folders in the system temp dir: ``mantis-duckdb-<pid>-<random>``.
DUCKDB_TEMP_PREFIX = "mantis-duckdb-"


def private_temp_dir(prefix: str) -> Path:
    """A new folder in the system temp dir that only this user can enter, named
    ``<prefix><pid>-<random>``; this user's folders of that prefix left by processes that no
    longer exist (killed readers) are removed first.

    ``tempfile.mkdtemp`` creates it with mode 0700 under a name nobody can create first (a
    random suffix, ``O_EXCL`` semantics), so another user can neither read what is written there
    nor plant a folder or a symbolic link in its place. Leftovers are removed only when they are
    real folders owned by this user.
    """
    tmp = Path(tempfile.gettempdir())
    with contextlib.suppress(OSError):
        for entry in os.scandir(tmp):
            name = entry.name
            if not name.startswith(prefix):
                continue
            pid = name[len(prefix):].split("-", 1)[0]
            if (pid.isdigit() and not _alive(int(pid))
                    and entry.is_dir(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_uid == os.getuid()):
                shutil.rmtree(entry.path, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=tmp))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def snapshot(data_dir: Path) -> Iterator[dict[str, MonthFiles]]:
    """A consistent list of the files that hold each month, stable while the context is open.

    A shared lock on ``.publish.lock`` keeps compaction from sealing or publishing meanwhile, so
    every row is in exactly one listed file (or, after a compactor crash, in a sealed shard *and*
    its part, which run_id dedupe absorbs).
    """
    check_data_dir(data_dir)
    with publish_shared(data_dir):
        yield scan(data_dir)


@contextmanager
def publish_shared(data_dir: Path) -> Iterator[None]:
    """The shared publish lock, through the intent first (a compactor waiting to publish goes
    first): compaction neither seals nor publishes meanwhile. ``snapshot`` holds it around a
    read of the run log, store/event_files.py around a read of the events (never both at once:
    a compactor queued at the intent would wait for one, and it for the compactor)."""
    try:
        with shared_if_present(data_dir / PUBLISH_INTENT, PUBLISH_LOCK_TIMEOUT_S):
            pass  # a compactor waiting to publish goes first
        with shared_if_present(data_dir / PUBLISH_LOCK, PUBLISH_LOCK_TIMEOUT_S):
            yield
    except LockTimeout:
        raise MantisError(
            f"{data_dir / PUBLISH_LOCK} has been locked for over {PUBLISH_LOCK_TIMEOUT_S:g}s; "
            "is a compaction stuck?"
        ) from None


def query_failed(exc: engine.Error, months: Iterable[MonthFiles]) -> MantisError:
    """The one-line error of a failed query over ``months``. The usual cause after upgrading
    mantis-runs, a part in an older Parquet layout, is named with its fix."""
    return old_layout(months) or MantisError(f"query failed: {one_line(exc)}")


def old_layout(months: Iterable[MonthFiles]) -> MantisError | None:
    """The error for the first part of ``months`` in an older Parquet layout, if any (reads the
    parts' footers: pyarrow is imported)."""
    from .parquet_layout import layout_of

    for mf in months:
        for part in mf.parts:
            try:
                version = layout_of(part)
            except Exception:  # unreadable: a query's own error says more
                continue
            if version < schema.PARQUET_LAYOUT:
                return MantisError(f"{part} is in Parquet layout {version}, written by an earlier "
                                   "mantis-runs; run `mantis runs compact` once to rewrite it "
                                   "(nothing is lost)")
    return None


def lock_down(con: engine.DuckDBPyConnection, readable: Iterable[str]) -> None:
    """From now on ``con`` reads no file but ``readable`` (named exactly as its queries name
    them), creates none, and no setting can be changed (``SET``, ``RESET``, ``PRAGMA`` of a
    setting, ``INSTALL`` and ``LOAD`` are refused); nothing in a query can undo it. DuckDB still
    spills to its ``temp_directory``, set beforehand by ``connect``.

    DuckDB does not tell reading from writing: a ``COPY ... TO`` naming one of ``readable`` with
    ``USE_TMP_FILE false`` would still overwrite it, which ``check_read_only`` refuses for the
    SQL mantis runs on a user's behalf (docs/sql.md).
    """
    con.execute("SET allowed_paths = $paths", {"paths": sorted(set(readable))})
    con.execute("SET enable_external_access = false")  # DuckDB allows no way back
    con.execute("SET lock_configuration = true")


#: What a query may be: DuckDB parses DESCRIBE, SUMMARIZE, SHOW, TABLE, VALUES, FROM-first and
#: PIVOT with its values listed as SELECT, and ``CALL f()`` is ``SELECT * FROM f()``. EXPLAIN is
#: allowed when what it explains is (EXPLAIN ANALYZE runs it).
READ_ONLY_STATEMENTS = frozenset({engine.StatementType.SELECT, engine.StatementType.CALL})

_HINTS = {
    "COPY": "to write a result to a file, use `mantis runs sql --output FILE` or write the "
            "Arrow table from Python",
    "EXPORT": "to write a result to a file, use `mantis runs sql --output FILE` or write the "
              "Arrow table from Python",
    "PRAGMA": "use SELECT * FROM pragma_<name>(...), DESCRIBE or SHOW",
    "PIVOT": "list the values to pivot on: PIVOT ... ON column IN (...)",
}


def check_read_only(con: engine.DuckDBPyConnection, statement: engine.Statement) -> None:
    """Raise ``UsageError`` unless ``statement`` is a read-only query (READ_ONLY_STATEMENTS, or
    an EXPLAIN of one). A defence in depth: ``lock_down`` is what stops a query from reading or
    writing files, but a ``COPY ... TO`` onto a file it may read is stopped only here."""
    try:
        kind = statement.type
    except ValueError:  # a statement type this duckdb module has no name for
        kind = None
    if kind in READ_ONLY_STATEMENTS:
        return
    text = statement.query
    if kind == engine.StatementType.EXPLAIN:
        refused: UsageError | None = None
        for explained in _explained(text):
            try:
                inner = con.extract_statements(explained)
            except engine.ParserException:
                continue  # not what DuckDB runs
            if len(inner) == 1:
                try:
                    check_read_only(con, inner[0])
                    return
                except UsageError as exc:  # name what is explained, not EXPLAIN
                    refused = exc
        if refused is not None:
            raise refused
    words = _words(text)
    word = words[0][2].upper() if words else ""
    if kind == engine.StatementType.MULTI:
        # DuckDB's own expansion of a PIVOT without its values, which may wrap any statement
        word = "PIVOT"
    elif not word.isalpha() or word == "WITH":  # name the statement, not its first token
        word = kind.name if kind is not None else "this statement"
    raise UsageError(f"{word} is refused: only read-only queries run here (SELECT, FROM, WITH, "
                     "VALUES, DESCRIBE, SUMMARIZE, SHOW, CALL, EXPLAIN); "
                     + _HINTS.get(word, "see docs/sql.md"))


def _words(text: str) -> list[tuple[int, engine.token_type, str]]:
    """The tokens of ``text`` but comments: (start in UTF-8 bytes, as DuckDB counts, kind,
    text)."""
    raw = text.encode()
    tokens = engine.tokenize(text)
    out: list[tuple[int, engine.token_type, str]] = []
    for i, (start, kind) in enumerate(tokens):
        if kind == engine.token_type.comment:
            continue
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(raw)
        out.append((start, kind, raw[start:end].decode(errors="replace").strip()))
    return out


def _explained(text: str) -> list[str]:
    """What ``EXPLAIN [ANALYZE] [(options)] statement`` may explain. A parenthesis after
    EXPLAIN [ANALYZE] opens either the options or a query, so both readings are given: one that
    is not what DuckDB runs cannot parse as a read-only query (a statement that starts with a
    parenthesis is a query, and options followed by a statement are not one)."""
    words = _words(text)
    if not words or words[0][2].upper() != "EXPLAIN":
        return []
    i = 1
    if i < len(words) and words[i][2].upper() in ("ANALYZE", "ANALYSE"):
        i += 1
    if i >= len(words):
        return []
    raw = text.encode()
    readings = [raw[words[i][0]:].decode()]
    if words[i][1] == engine.token_type.operator and words[i][2].startswith("("):
        depth = 0
        for j in range(i, len(words)):
            if words[j][1] == engine.token_type.operator:  # not a "(" inside a string
                depth += words[j][2].count("(") - words[j][2].count(")")
            if depth == 0:
                if j + 1 < len(words):
                    readings.append(raw[words[j + 1][0]:].decode())
                break
    return readings
