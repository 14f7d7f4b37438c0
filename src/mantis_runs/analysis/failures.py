"""`mantis runs failures`: a workflow's failed runs grouped by the class of their error.

Each failed run is its winning copy (the stats engine's files, dedupe and rival rules), dated,
finished since --since. Its class is ``errors.normalise_error`` of its error text. Weeks are ISO
weeks: they start on Monday, 00:00 UTC; the first is the week of --since (of the oldest failure
without --since), the last the week of ``now``. Rules: docs/insights.md.

The read, per workflow: when the run_ids provably never repeat (``stats.whole.proven_files``, as for
a whole-history `stats`), the failed Parquet rows are read in place; otherwise the stats engine
gathers every copy and ranks them (the general path). Without a workflow, every workflow with a
row since --since is read in turn, over one snapshot.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ..db.lake_source import DataDirs, month_filter, ready, sources_of
from ..db.sqlfiles import load
from ..log import schema
from ..log.record import at_epoch_us, format_timestamp
from ..log.timewindow import resolve_since
from ..stats import plan as planning
from ..stats.engine import Collector, StatsQuery, collect
from ..stats.whole import proven_files
from .errors import SHAPE_FROM, SHAPE_TO, classes, keeps_digits
from .limits import ALL_RUNS


@dataclass(frozen=True)
class FailureClass:
    """One class of errors: how many failed runs, their share of the failures, the first and
    last finished_at, the count per week (``FailuresResult.weeks``), the newest run's run_id
    (latest finished_at, ties by run_id descending) and the workflows it occurs in, the most
    failures of the class first (ties by name), with their counts (``by_workflow``)."""

    error_class: str
    count: int
    share: float
    first_seen: datetime
    last_seen: datetime
    weekly: list[int]
    example_run_id: str
    workflows: list[str]
    by_workflow: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"class": self.error_class, "count": self.count, "share": self.share,
                "first_seen": format_timestamp(self.first_seen),
                "last_seen": format_timestamp(self.last_seen), "weekly": self.weekly,
                "example_run_id": self.example_run_id, "workflows": self.workflows,
                "by_workflow": self.by_workflow}


@dataclass(frozen=True)
class FailuresResult:
    """The failure classes of a workflow (None: every workflow), most failures first (ties by
    class); ``failed`` of ``terminal`` dated runs (succeeded or failed) since ``since``."""

    workflow_id: str | None
    since: datetime | None
    weeks: list[date]
    failed: int
    terminal: int
    classes: list[FailureClass] = field(default_factory=list)
    skipped_lines: dict[str, int] = field(default_factory=dict)  # shard file name -> lines

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.terminal if self.terminal else None

    def to_json(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id,
                "since": None if self.since is None else format_timestamp(self.since),
                "weeks": [w.isoformat() for w in self.weeks], "failed": self.failed,
                "terminal": self.terminal, "failure_rate": self.failure_rate,
                "classes": [c.to_json() for c in self.classes],
                "skipped_lines": dict(self.skipped_lines)}


@dataclass
class _Class:
    """One error class of one workflow's failures, as read (``Found``)."""

    runs: int
    first_us: int
    last_us: int
    weekly: dict[int, int]  # week start (microseconds since the epoch) -> runs
    newest: str = ""


#: The error classes of one workflow, and its terminal runs.
Found = tuple[dict[str, _Class], int]


def failures(workflow_id: str | None, *, data_dir: DataDirs = None,
             since: str | datetime | None = "30d", now: datetime | None = None,
             ) -> FailuresResult:
    """The failed runs of ``workflow_id`` (None: of every workflow) since ``since`` (a
    duration such as ``30d``, an ISO date, a datetime, or None: all history), by error class."""
    now = now or datetime.now(UTC)
    start = resolve_since(since, now)
    query = StatsQuery(workflow_id=workflow_id or "", last=ALL_RUNS, since=start, status=None,
                       buckets=None)

    skipped: dict[str, int] = {}

    def step(c: Collector) -> dict[str, Found]:
        c.con.execute(load("macro_week_start"))
        names = [workflow_id] if workflow_id is not None else _workflows(c, skipped)
        return {name: _read(dataclasses.replace(
            c, query=dataclasses.replace(query, workflow_id=name), step=0, checked=[],
            skipped={}, jsonl_read=[]), skipped) for name in names}

    found = collect(sources_of(data_dir), query, step)
    return dataclasses.replace(summarise(found, workflow_id=workflow_id, since=start, now=now),
                               skipped_lines=dict(sorted(skipped.items())))


def _note_skipped(skipped: dict[str, int], c: Collector) -> None:
    """Add the malformed lines of the files ``c`` read to ``skipped``: each workflow's read
    goes over the same files of one snapshot, so a file counts its lines once (the most)."""
    for name, n in c.skipped_lines().items():
        skipped[name] = max(skipped.get(name, 0), n)


def _workflows(c: Collector, skipped: dict[str, int]) -> list[str]:
    """Every workflow with a row since --since in the snapshot's files (their malformed lines
    added to ``skipped``)."""
    c.con.execute(load("stats_candidates_table"), {"known_struct": schema.known_struct()})
    todo = planning.plan(c.con, c.months, c.live, c.query.since)
    jsonl, parts = c.files(todo)
    c.collect_jsonl(jsonl)
    found = {str(r[0]) for r in c.con.execute(load("failures_workflows_jsonl")).fetchall()}
    if parts:
        found |= {str(r[0]) for r in c.con.execute(load("failures_workflows_parquet"), {
            "files": parts, "since": c.query.common["since"]}).fetchall()}
    if lake := [m.lake_month for m in todo if m.lake]:
        ready(c.con, c.lake, lake)
        found |= {str(r[0]) for r in c.con.execute(load("failures_workflows_lake"), {
            **month_filter(lake), "since": c.query.common["since"]}).fetchall()}
    _note_skipped(skipped, c)
    return sorted(found)


def _read(c: Collector, skipped: dict[str, int]) -> Found:
    """The error classes of the Collector's workflow, and its terminal runs (the malformed
    lines of the files read added to ``skipped``)."""
    c.con.execute(load("failures_table"))
    wf = c.query.workflow_id
    terminal = _in_place(c)
    in_place = terminal is not None
    if terminal is None:
        c = dataclasses.replace(c, step=0, checked=[], skipped={}, jsonl_read=[])
        c.gather(in_place=False)
        c.find_details({"workflow_id": wf, "status": "failed", "finished_before": None})
        c.con.execute(load("failures_chosen"), {"workflow_id": wf})
        (terminal,), = c.con.execute(load("failures_terminal"), {"workflow_id": wf}).fetchall()
    _note_skipped(skipped, c)
    found: dict[str, _Class] = {}
    for (_shape, _error, runs, first, last, weekly), kind in _groups(c):
        m = found.setdefault(kind, _Class(0, first, last, {}))
        m.runs += int(runs)
        m.first_us, m.last_us = min(m.first_us, first), max(m.last_us, last)
        for week, n in weekly.items():
            m.weekly[week] = m.weekly.get(week, 0) + int(n)
    at = sorted({m.last_us for m in found.values()})
    if not at:
        return found, int(terminal)
    newest = c.con.execute(load("failures_newest_chosen"), {"workflow_id": wf,
                                                           "at": at}).fetchall()
    if in_place:
        newest += c.con.execute(load("failures_newest_parquet"), {
            "files": c.checked, "workflow_id": wf, "at": [_at(us) for us in at]}).fetchall()
    for (_error, us, run_id), kind in zip(newest, classes(r[0] for r in newest), strict=True):
        m = found[kind]
        if us == m.last_us:  # the newest order: the latest finished_at, then the largest run_id
            m.newest = max(m.newest, str(run_id))
    return found, int(terminal)


def _groups(c: Collector) -> list[tuple[tuple[Any, ...], str]]:
    """failures_groups rows of mantis_failed, with their class: by shape, and by text for the
    shapes whose class keeps a digit."""
    params: dict[str, Any] = {"from": SHAPE_FROM, "to": SHAPE_TO, "shapes": None}
    rows = c.con.execute(load("failures_groups"), params).fetchall()
    found = list(zip(rows, classes(r[1] for r in rows), strict=True))
    exact = {r[0] for r, kind in found if keeps_digits(kind)}
    if not exact:
        return found
    rows = c.con.execute(load("failures_groups"), {**params, "shapes": sorted(exact)}).fetchall()
    return [(r, kind) for r, kind in found if r[0] not in exact] + list(
        zip(rows, classes(r[1] for r in rows), strict=True))


def _in_place(c: Collector) -> int | None:
    """Fill mantis_failed reading the Parquet rows in place, and return the terminal runs;
    None (nothing filled) when a run_id may repeat or there is no Parquet file."""
    q = c.query
    parts = proven_files(c)  # the whole-history proof that no run_id repeats
    if parts is None:
        return None
    params = {**q.common, "files": parts}
    c.find_details({"workflow_id": q.workflow_id, "status": "failed", "finished_before": None},
                   parquet=False)
    c.con.execute(load("failures_chosen"), {"workflow_id": q.workflow_id})
    c.con.execute(load("failures_whole_parquet"), params)
    (terminal,), = c.con.execute(load("failures_whole_terminal"), params).fetchall()
    return int(terminal)


def _at(us: int) -> datetime:
    return at_epoch_us(int(us))  # a NumPy or DuckDB integer too


def _monday(t: datetime) -> date:
    day = t.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


def summarise(found: dict[str, Found], *, workflow_id: str | None, since: datetime | None,
              now: datetime) -> FailuresResult:
    """The result from each workflow's error classes and terminal runs."""
    every = [(wf, kind, m) for wf, (classes_, _) in found.items() for kind, m in classes_.items()]
    first_week = _monday(since) if since is not None else min(
        (_monday(_at(m.first_us)) for _, _, m in every), default=_monday(now))
    weeks = [first_week + timedelta(weeks=i)
             for i in range(max(0, (_monday(now) - first_week).days // 7) + 1)]
    index = {w: i for i, w in enumerate(weeks)}
    merged: dict[str, dict[str, Any]] = {}
    for wf, kind, m in every:
        c = merged.setdefault(kind, {"count": 0, "first": m.first_us, "last": (m.last_us, ""),
                                     "weekly": [0] * len(weeks), "workflows": {}})
        c["count"] += m.runs
        c["first"] = min(c["first"], m.first_us)
        c["last"] = max(c["last"], (m.last_us, m.newest))  # the newest order, across workflows
        c["workflows"][wf] = c["workflows"].get(wf, 0) + m.runs
        for week, n in m.weekly.items():
            at = index.get(_at(week).date())
            if at is not None:  # a run after now's week is counted, not charted
                c["weekly"][at] += n
    failed = sum(c["count"] for c in merged.values())
    out = [FailureClass(error_class=kind, count=c["count"], share=c["count"] / failed,
                        first_seen=_at(c["first"]), last_seen=_at(c["last"][0]),
                        weekly=c["weekly"], example_run_id=c["last"][1],
                        workflows=list(_most_first(c["workflows"])),
                        by_workflow=_most_first(c["workflows"])) for kind, c in merged.items()]
    out.sort(key=lambda c: (-c.count, c.error_class))
    return FailuresResult(workflow_id=workflow_id, since=since, weeks=weeks, failed=failed,
                          terminal=sum(t for _, t in found.values()), classes=out)


def _most_first(counts: dict[str, int]) -> dict[str, int]:
    """``counts`` ordered by count, most first, then by name."""
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
