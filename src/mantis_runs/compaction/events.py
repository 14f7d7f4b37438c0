"""Converting an events shard (step 4 for ``events``): a sealed ``events_log/YYYY-MM.jsonl``
plus the month's events part into the month's next events part.

Events have no id and are never deduplicated: the next part is every row of the previous one
and every good line of the shard, once (bad lines, by ``mantis_bad_event``, go to the events'
quarantine first, as a run shard's do). Each row keeps the order it was written in: ``seq``
continues from the previous part's largest. The rows are sorted by run_id, ts, seq into row
groups of ``EVENT_ROW_GROUP_ROWS`` rows, so one run's events are in one or two row groups found
by their run_id statistics, and a time window by their ts statistics (run_ids begin with their
start time); DuckDB writes a bloom filter for the dictionary-encoded ``type``
(docs/storage-format.md, "Events parts"). The same interface as :class:`.convert.Conversion`.

A checkpoint of the live events month (checkpoints.py) is converted the same way, from the last
checkpoint and the copy of the bytes added since; its ``seq`` also continues after the month's
part (``after``), so that readers order the part's rows, then the checkpoint's, then the tail's,
as they order the part's and then the live shard's.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import duckdb

from ..db import views
from ..db.connection import duckdb_path
from ..db.sqlfiles import load
from ..errors import MantisError
from ..log.locks import fsync_file
from .convert import parquet_rows

#: Rows per row group of an events part: one run's events fall in one or two of them, and a
#: footer stays small. Measured on the events-1m set (2M events, 12 parts): one run's events
#: take the same time with 8,192 (17 ms), 65,536 (19 ms) or 1M rows per group; a type over 30
#: days 15 ms with 8,192 and 2.4 ms with 65,536 (docs/storage-format.md, "Events parts").
EVENT_ROW_GROUP_ROWS = 65_536


class EventsConversion:
    """A sealed events shard plus the month's events part (or none) into the next part: the
    counting pass first (``lines``, ``bad``), then ``write``."""

    #: whose lines these are: an events shard's (convert.write_quarantine)
    events = True

    def __init__(self, con: duckdb.DuckDBPyConnection, scratch: Path, jsonl: Path,
                 previous: Path | None, after: Sequence[Path] = ()) -> None:
        self.con = con
        for macro in views.EVENT_PART_MACROS:
            con.execute(load(macro))
        con.execute("SET preserve_insertion_order = true")  # seq is the file's order
        self.files = [duckdb_path(jsonl)]
        holder = views.placeholders()[0]
        self.previous = [duckdb_path(previous if previous is not None
                                     else views.event_part_placeholder(holder))]
        self.file_name = jsonl.name.split(".sealed-", 1)[0]  # YYYY-MM.jsonl, as readers name it
        (lines, bad, base_seq), = con.execute(load("compact_events_counts"), {
            "files": self.files, "previous": self.previous}).fetchall()
        self.lines, self.bad, self.base_seq = int(lines), int(bad), int(base_seq)
        if after:  # seq continues after the rows of these Parquet files too
            (most,), = con.execute(load("events_max_seq"),
                                   {"files": [duckdb_path(p) for p in after]}).fetchall()
            self.base_seq = max(self.base_seq, int(most))
        self.expected = (parquet_rows(previous) if previous is not None else 0) + (
            self.lines - self.bad)

    def write(self, tmp: Path) -> int:
        """Write the next part to ``tmp`` (fsynced); returns its rows, checked to be every row
        of the previous part plus every good line of the shard."""
        self.con.execute("SET preserve_insertion_order = true")  # (quarantining turns it off)
        self.con.execute(load("compact_events_part"), {
            "previous": self.previous, "files": self.files, "file_name": self.file_name,
            "base_seq": self.base_seq, "path": duckdb_path(tmp),
            "row_group_size": EVENT_ROW_GROUP_ROWS})
        fsync_file(tmp)
        written = parquet_rows(tmp)
        if written != self.expected:  # never publish a part that lost or repeated an event
            raise MantisError(f"{tmp.name} holds {written} events where {self.expected} were "
                              "expected; it was not published")
        return written
