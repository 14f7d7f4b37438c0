"""Text rendering for the CLI: pure functions from results to strings.

Text output (tables, ``show``, ``report``, ``stats``, ``watch``, warnings) is for a terminal:
stored text is printed through :func:`visible`, so control characters arrive as escapes and never
act (a workflow id holding ``ESC ] 0 ;`` cannot set the window title), and columns are measured
in terminal cells (wcwidth), so CJK and emoji keep tables aligned. CSV does the same but keeps
tabs and line breaks (quoted, as CSV does). JSON output stays faithful: the same strings, with
JSON's own escapes (``\u001b``), so it is both exact and safe to print.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import messages
from ..log.record import format_timestamp
from ..units import human_bytes
from .text import _pad, _width, cut, seconds, tabulate, visible, warning
from .values import json_text, plain

if TYPE_CHECKING:  # keep `mantis --help` free of the duckdb import

    from ..compaction import CompactionReport
    from ..stats import StatsResult
    from ..stats.result import GroupedStats
    from ..store import RunReport, RunRow
    from ..store.events import EventRow, RunStatus, Timeline
    from ..store.open_runs import OpenRun
    from ..store.watch import WatchResult

def _when(dt: datetime | None) -> str:
    """``2026-05-13 18:09:34``: the UTC timestamp (log.record's text) for people, to the second."""
    if dt is None:
        return ""
    return format_timestamp(dt.replace(microsecond=0)).removesuffix("Z").replace("T", " ")


def _minute(dt: datetime) -> str:
    return _when(dt)[: len("YYYY-MM-DD HH:MM")]


def _since(r: StatsResult | GroupedStats) -> str:
    return f" finished since {_minute(r.since)} UTC" if r.since else ""


def skipped_warning(skipped: dict[str, int]) -> str | None:
    text = messages.skipped_lines(skipped)
    return None if text is None else warning(visible(text))


def watch_text(r: WatchResult) -> str:
    """The one line ``mantis runs watch`` ends with."""
    from ..store.watch import WatchOutcome

    if r.outcome is WatchOutcome.UNREADABLE:
        return visible(f"error: cannot read {r.data_dir}: {r.error}")
    if r.outcome is WatchOutcome.TIMED_OUT:
        return f"timed out after {r.timeout:g}s waiting for run {visible(r.run_id)}"
    if r.outcome is WatchOutcome.LOST and r.status is not None:
        last = r.status.last_event
        return (f"run {visible(r.run_id)} lost: no terminal row and no event for over "
                f"{r.status.stale_after_s:g}s"
                + (f" (last: {_when(last['ts'])} UTC {visible(last['type'])})" if last else ""))
    assert r.row is not None
    error = r.row["error"]
    return visible(f"run {r.run_id} {r.row['status']}" + (f": {_one_line(error)}" if error else ""))


def to_json(obj: Any) -> str:
    """Strict JSON: NaN and infinities become null (they are not JSON); decimals and integers
    keep every digit."""
    return json_text(plain(obj), indent=2)


def compaction_text(r: CompactionReport) -> str:
    lines: list[str] = []
    for item in r.recovered:
        lines.append(f"recovered: removed {visible(item)}")
    for item in r.upgraded:
        lines.append(f"rewrote {visible(item)} in the current Parquet layout")
    data_dir = visible(r.data_dir)
    if r.dry_run:
        lines.append(f"Dry run in {data_dir}: months before {r.closed_before} are closed.")
        lines.extend([visible(line) for line in r.plan] or ["Nothing to compact or checkpoint."])
        return "\n".join(lines)
    if not r.months and not r.events_months:
        lines.append(f"No closed month to compact in {data_dir} (months before "
                     f"{r.closed_before} are closed).")
    if r.months:
        rows = [[m.month, m.rows_in, m.rows_written, m.duplicates_dropped,
                 m.bad_lines_quarantined, human_bytes(m.bytes_before),
                 human_bytes(m.bytes_after)]
                for m in r.months]
        lines.append(tabulate(rows, headers=["month", "rows in", "rows written", "duplicates",
                                             "quarantined", "before", "after"],
                              tablefmt="simple", intfmt=","))
    if r.events_months:
        rows = [[m.month, m.rows_in, m.rows_written, m.bad_lines_quarantined,
                 human_bytes(m.bytes_before), human_bytes(m.bytes_after)]
                for m in r.events_months]
        lines.append(tabulate(rows, headers=["events month", "events in", "events written",
                                             "quarantined", "before", "after"],
                              tablefmt="simple", intfmt=","))
    for kind, months in (("", r.months), ("events ", r.events_months)):
        for m in months:
            for q in m.quarantine:
                lines.append(f"{kind}{m.month}: {m.bad_lines_quarantined} bad lines kept in "
                             f"{visible(q)}")
    for c in r.checkpoints:
        bad = f"; {c.bad_lines:,} bad line{'' if c.bad_lines == 1 else 's'}" if c.bad_lines else ""
        lines.append(f"{c.month}: checkpoint of live {visible(c.shard)} now covers "
                     f"{human_bytes(c.offset)}, "
                     f"{c.rows:,} rows ({human_bytes(c.bytes_read)} read this run{bad})")
    return "\n".join(lines)


# -- rows and tables ---------------------------------------------------------------------------


def runs_list(rows: list[RunRow]) -> str:
    if not rows:
        return "No runs found."
    body = [[_when(r["finished_at"]), visible(r["status"] or ""),
             visible(r["workflow_id"] or ""), visible(r["run_id"]), seconds(r["total_time_s"]),
             visible(r["model"] or ""), _short(r["error"], 60)] for r in rows]
    text: str = tabulate(body, headers=["finished (UTC)", "status", "workflow", "run_id", "total",
                                        "model", "error"], tablefmt="plain",
                         disable_numparse=True,
                         colalign=("left", "left", "left", "left", "right", "left", "left"))
    return "\n".join(line.rstrip() for line in text.splitlines())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _short(text: str | None, width: int) -> str:
    """``text`` on one line, made :func:`visible`, within ``width`` terminal cells."""
    if not text:
        return ""
    return cut(visible(_one_line(text)), width)


def _pct(share: float | None) -> str:
    return "" if share is None or not math.isfinite(share) else f"{share * 100:.1f}%"


def run_text(rep: RunReport, *, full: bool = False) -> str:
    r = rep.run
    out: list[str] = []
    run_id = visible(r["run_id"])
    if full:
        out += [f"Run report: {run_id}", "=" * (12 + _width(run_id)), ""]
    else:
        out += [f"Run {run_id}"]
    dur = seconds(r["total_time_s"])
    facts: list[tuple[str, object]] = [
             ("workflow", r["workflow_id"]), ("status", r["status"]), ("model", r["model"]),
             ("created", _when(r["created_at"]) + " UTC" if r["created_at"] else None),
             ("finished", _when(r["finished_at"]) + " UTC" if r["finished_at"] else None),
             ("total", dur)]
    if full:
        facts += [("tenant", r["tenant_id"]), ("profile", r["profile_id"]),
                  ("plan", r["plan_signature"]), ("steps", r["steps_executed"]),
                  ("viable", r["viable"])]
    out += [f"  {k + ':':<10}{visible(str(v))}" for k, v in facts if v not in (None, "")]
    out.append("")
    if rep.buckets:
        base = rep.baseline
        title = "Wall time"
        if base is not None and base.run_count:
            title += (f" (vs the last {base.run_count} {visible(base.status or '')} runs of "
                      f"{visible(base.workflow_id)})").replace("  ", " ")
        out.append(title + ":")
        body = [[visible(b.bucket), seconds(b.seconds), _pct(b.share), seconds(b.p50),
                 seconds(b.p95), b.verdict] for b in rep.buckets]
        if rep.unaccounted_s is not None:
            body.append(["(unaccounted)", seconds(rep.unaccounted_s),
                         _pct(rep.unaccounted_s / r["total_time_s"])
                         if r["total_time_s"] else "", "", "", ""])
        table = tabulate(body, headers=["bucket", "seconds", "share", "p50", "p95", ""],
                         tablefmt="plain", disable_numparse=True,
                         colalign=("left", "right", "right", "right", "right", "left"))
        out += ["  " + line.rstrip() for line in table.splitlines()]
        out.append("")
    costs = r["cost_breakdown"] or {}
    if costs:
        out.append("Cost:")
        items = sorted((visible(k), v) for k, v in costs.items())
        width = max(_width(k) for k in [*dict(items), "total"])
        out += [f"  {_pad(k, width)}  {v:.6g}" for k, v in items]
        out.append(f"  {'total':<{width}}  {rep.cost_total:.6g}")
        out.append("")
    if r["error"]:
        out += ["Error:", *("  " + visible(line) for line in r["error"].splitlines()), ""]
    if rep.timeline is not None:
        out += timeline_lines(rep.timeline)
    if full and r["extra"]:
        out += ["Other fields:", *(f"  {visible(k)}: {visible(json_text(plain(v), strict=False))}"
                                   for k, v in sorted(r["extra"].items())), ""]
    return "\n".join(out).rstrip() + "\n"


if TYPE_CHECKING:  # (here, with the one function that needs it)
    from ..compaction.verify import VerifyReport


def verify_text(r: VerifyReport) -> str:
    """``mantis runs verify``: what was checked, then one line per damaged or unchecked file."""
    def count(n: int, what: str) -> str:
        return f"{n:,} {what}{'' if n == 1 else 's'}"

    lines = [f"Checked {visible(r.data_dir)}: {count(r.parts, 'part')} and "
             f"{count(r.checkpoints, 'checkpoint')} against their checksums, "
             f"{count(r.quarantine_files, 'quarantine file')}."]
    lines += [f"DAMAGED {visible(f.path)}: {visible(f.problem)}" for f in r.damaged]
    lines += [f"unchecked {visible(f.path)}: {visible(f.problem)}" for f in r.unchecked]
    lines.append(f"{count(len(r.damaged), 'damaged file')} found." if r.damaged
                 else "No damage found.")
    return "\n".join(lines)


# -- run events --------------------------------------------------------------------------------


def event_line(e: EventRow) -> str:
    """``2026-12-04T20:52:49.123456Z r-1 heartbeat {"progress": 0.5}``: one event on one line
    (the exact ts, the fields as JSON with terminal-unsafe characters escaped)."""
    return (f"{format_timestamp(e['ts'])} {visible(e['run_id'])} {visible(e['type'])} "
            f"{_json_fields(e['fields'])}")


def _json_fields(fields: dict[str, Any]) -> str:
    """An event's fields as JSON for a terminal: JSON escapes the controls, :func:`visible` the
    bidirectional ones (``\\u202e``, still JSON for the same text)."""
    return visible(json_text(plain(fields)))


def events_text(events: list[EventRow]) -> str:
    return "\n".join(event_line(e) for e in events) if events else "No events found."


def _event_brief(e: EventRow) -> str:
    return f"{_when(e['ts'])} UTC {visible(e['type'])}"


def _progress(p: float | None) -> str:
    return "" if p is None else f"{p * 100:.1f}%"


def status_text(s: RunStatus) -> str:
    """``mantis runs status``: the answer and its source, then what is known."""
    return "\n".join([f"run {visible(s.run_id)}: {s.status} (source: {s.source})",
                      *_status_facts(s)])


def _status_facts(s: RunStatus, *more: tuple[str, str]) -> list[str]:
    """What ``status`` knows of a run, a line each (after ``more``)."""
    facts: list[tuple[str, str | None]] = [
        *more, ("workflow", visible(s.workflow_id) if s.workflow_id else None),
        ("started", _when(s.started_at) + " UTC" if s.started_at else None),
        ("finished", _when(s.finished_at) + " UTC" if s.finished_at else None),
        ("progress", _progress(s.progress) or None),
        ("last event", _event_brief(s.last_event) + " " + _json_fields(s.last_event["fields"])
         if s.last_event else None)]
    lines = [f"  {k + ':':<12}{v}" for k, v in facts if v]
    if s.status == "lost":
        lines.append(f"  no terminal row, and no event for over {s.stale_after_s:g}s")
    return lines


def report_text(rep: RunReport | OpenRun, *, full: bool = False) -> str:
    """``show`` (``full``: ``report``) of a finished run, or of one with no terminal row."""
    from ..store import open_runs  # loaded already: ``rep`` comes from the store

    if isinstance(rep, open_runs.OpenRun):
        return open_run_text(rep, full=full)
    return run_text(rep, full=full)


def open_run_text(o: OpenRun, *, full: bool = False) -> str:
    """``show`` and ``report`` of a run with events and no terminal row: what ``status`` says
    of it, then its timeline."""
    title = f"{'Run report:' if full else 'Run'} {visible(o.run_id)}: no terminal row"
    out = [title, *(["=" * _width(title), ""] if full else [])]
    out += _status_facts(o.status, ("status", f"{o.status.status} (source: {o.status.source})"))
    return "\n".join([*out, "", *timeline_lines(o.timeline)]).rstrip() + "\n"


def open_runs_list(states: list[RunStatus], what: str) -> str:
    """``mantis runs list --running`` / ``--lost``: one line per run, newest start first."""
    if not states:
        return f"No {what} runs found."
    body = [[_when(s.started_at), s.status, visible(s.workflow_id or ""), visible(s.run_id),
             _progress(s.progress), _when(s.last_event["ts"]) if s.last_event else "",
             visible(s.last_event["type"]) if s.last_event else ""] for s in states]
    text: str = tabulate(body, headers=["started (UTC)", "status", "workflow", "run_id",
                                        "progress", "last event (UTC)", "type"],
                         tablefmt="plain", disable_numparse=True,
                         colalign=("left", "left", "left", "left", "right", "left", "left"))
    return "\n".join(line.rstrip() for line in text.splitlines())


def timeline_lines(t: Timeline) -> list[str]:
    """The ``Events:`` section of ``show`` and ``report``."""
    out = ["Events:", f"  {'first:':<10}{_event_brief(t.first)}",
           f"  {'last:':<10}{_event_brief(t.last)}",
           f"  {'counts:':<10}" + ", ".join(f"{visible(k)} {n}" for k, n in t.counts.items())]
    for f in t.failures:
        message = f["fields"].get("message")
        text = _short(message if isinstance(message, str) else None, 100)
        out.append(f"  {'failure:':<10}{_when(f['ts'])} UTC" + (f" {text}" if text else ""))
    return [*out, ""]


def watch_status(s: RunStatus) -> str:
    """A line of ``watch`` while the run has no terminal row (stderr, when it changes)."""
    extra = ", ".join(x for x in (_progress(s.progress),
                                  f"last event {_event_brief(s.last_event)}"
                                  if s.last_event else "") if x)
    return f"run {visible(s.run_id)} {s.status}" + (f": {extra}" if extra else "")
