"""Text rendering for the CLI: pure functions from results to strings."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .. import messages
from ..log.record import format_timestamp
from ..units import human_bytes

if TYPE_CHECKING:  # keep `mantis --help` free of the duckdb import
    import pyarrow as pa

    from ..compaction import CompactionReport
    from ..stats import BucketStats, StatsResult
    from ..store import RunReport, RunRow
    from ..store.watch import WatchResult

RULE = "─"


def tabulate(*args: Any, **kwargs: Any) -> str:
    """tabulate.tabulate, imported when a table is drawn (``--json`` output never needs it)."""
    from tabulate import tabulate as draw

    return str(draw(*args, **kwargs))


def seconds(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.1f}s" if abs(v) >= 1 else f"{v:.3f}s"


def warning(text: str) -> str:
    """A warning line on stderr (the CLI's log records are printed the same way)."""
    return f"warning: {text}"


def _when(dt: datetime | None) -> str:
    """``2026-05-13 18:09:34``: the UTC timestamp (log.record's text) for people, to the second."""
    if dt is None:
        return ""
    return format_timestamp(dt.replace(microsecond=0)).removesuffix("Z").replace("T", " ")


def _minute(dt: datetime) -> str:
    return _when(dt)[: len("YYYY-MM-DD HH:MM")]


def _since(r: StatsResult) -> str:
    return f" finished since {_minute(r.since)} UTC" if r.since else ""


def stats_header(r: StatsResult) -> str:
    who = f"{r.status} runs" if r.status else "runs (any status)"
    return f"Across last {r.run_count} {who} of {r.workflow_id}{_since(r)}:"


def stats_table(r: StatsResult) -> str:
    show_n = any(b.n != r.run_count for b in [*r.buckets, r.total])

    def row(b: BucketStats) -> list[str]:
        cells = [b.bucket, seconds(b.p50), seconds(b.p95), seconds(b.p99)]
        if show_n:
            cells.append("" if b.n == r.run_count else str(b.n))
        return cells

    headers = ["bucket", "p50", "p95", "p99"] + (["n"] if show_n else [])
    body = [row(b) for b in r.buckets] + [row(r.total)]
    text = tabulate(body, headers=headers, tablefmt="plain", disable_numparse=True,
                    colalign=("left", "right", "right", "right", "right")[: len(headers)])
    lines = text.splitlines()
    width = max(len(line) for line in lines)
    rule = RULE * width
    out = [lines[0], rule, *lines[1:-1]]
    if r.buckets:
        out.append(rule)
    out.append(lines[-1])
    return "\n".join(line.rstrip() for line in out)


def stats_text(r: StatsResult) -> str:
    if r.run_count == 0:
        who = f"{r.status} runs" if r.status else "runs"
        return f"No {who} of {r.workflow_id}{_since(r)} found."
    return f"{stats_header(r)}\n\n{stats_table(r)}"


def skipped_warning(skipped: dict[str, int]) -> str | None:
    text = messages.skipped_lines(skipped)
    return None if text is None else warning(text)


def watch_text(r: WatchResult) -> str:
    """The one line ``mantis runs watch`` ends with."""
    from ..store.watch import WatchOutcome

    if r.outcome is WatchOutcome.UNREADABLE:
        return f"error: cannot read {r.data_dir}: {r.error}"
    if r.outcome is WatchOutcome.TIMED_OUT:
        return f"timed out after {r.timeout:g}s waiting for run {r.run_id}"
    assert r.row is not None
    error = r.row["error"]
    return f"run {r.run_id} {r.row['status']}" + (f": {_one_line(error)}" if error else "")


def to_json(obj: Any) -> str:
    """Strict JSON: NaN and infinities become null (they are not JSON)."""
    return json.dumps(plain(obj), indent=2, ensure_ascii=False, allow_nan=False)


def compaction_text(r: CompactionReport) -> str:
    lines: list[str] = []
    for item in r.recovered:
        lines.append(f"recovered: removed {item}")
    for item in r.upgraded:
        lines.append(f"rewrote {item} in the current Parquet layout")
    if r.dry_run:
        lines.append(f"Dry run in {r.data_dir}: months before {r.closed_before} are closed.")
        lines.extend(r.plan or ["Nothing to compact or checkpoint."])
        return "\n".join(lines)
    if not r.months:
        lines.append(f"No closed month to compact in {r.data_dir} (months before "
                     f"{r.closed_before} are closed).")
    else:
        rows = [[m.month, m.rows_in, m.rows_written, m.duplicates_dropped,
                 m.bad_lines_quarantined, human_bytes(m.bytes_before),
                 human_bytes(m.bytes_after)]
                for m in r.months]
        lines.append(tabulate(rows, headers=["month", "rows in", "rows written", "duplicates",
                                             "quarantined", "before", "after"],
                              tablefmt="simple", intfmt=","))
        for m in r.months:
            for q in m.quarantine:
                lines.append(f"{m.month}: {m.bad_lines_quarantined} bad lines kept in {q}")
    for c in r.checkpoints:
        bad = f"; {c.bad_lines:,} bad line{'' if c.bad_lines == 1 else 's'}" if c.bad_lines else ""
        lines.append(f"{c.month}: checkpoint of live {c.shard} now covers {human_bytes(c.offset)}, "
                     f"{c.rows:,} rows ({human_bytes(c.bytes_read)} read this run{bad})")
    return "\n".join(lines)


# -- rows and tables ---------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A JSON-friendly value: ISO timestamps, dicts for maps, floats for decimals, null for NaN
    and infinities, text for anything else JSON has no type for (times, intervals, UUIDs...)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):  # an instant as the log writes it; naive: no zone to name
        return format_timestamp(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if value and all(isinstance(x, tuple) and len(x) == 2 for x in value):
            return {str(k): plain(v) for k, v in value}  # an Arrow map
        return [plain(x) for x in value]
    return str(value)


def cell(value: Any) -> str:
    v = plain(value)
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False)
    return f"{v}"


def _from_json(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def arrow_table(table: pa.Table, fmt: str, *, json_columns: Collection[str] = ()) -> str:
    """Render a query result as table, json, jsonl or csv.

    Maps become JSON objects and timestamps ISO text; the values of ``json_columns`` (columns of
    DuckDB's JSON type, which reach Arrow as plain text) are parsed, so that ``extra`` is an object
    in JSON output rather than a string holding JSON. jsonl of no rows is the empty string.
    """
    import pyarrow as pa

    names = table.column_names
    kinds = ["map" if pa.types.is_map(f.type) else "json" if f.name in json_columns else ""
             for f in table.schema]
    # Columns by position: a query may name two columns alike (a self-join, `x AS a, y AS a`).
    columns = [_python_values(col) for col in table.columns]
    rows = [[plain(dict(v) if kind == "map" and v is not None
                   else _from_json(v) if kind == "json" else v)
             for v, kind in zip(values, kinds, strict=True)]
            for values in zip(*columns, strict=True)] if columns else []
    if fmt in ("json", "jsonl"):
        keys = _unique(names)
        records = [dict(zip(keys, r, strict=True)) for r in rows]
        if fmt == "json":
            return json.dumps(records, indent=2, ensure_ascii=False, allow_nan=False)
        return "\n".join(json.dumps(r, ensure_ascii=False, allow_nan=False) for r in records)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(names)
        for r in rows:
            w.writerow([cell(v) for v in r])
        return buf.getvalue().rstrip("\n")
    body = [[cell(v) for v in r] for r in rows]
    text = tabulate(body, headers=names, tablefmt="simple", disable_numparse=True)
    count = len(rows)
    return f"{text}\n({count} row{'' if count == 1 else 's'})"


def _python_values(column: Any) -> list[Any]:
    """A column's values as Python objects; ones Python cannot hold (a date before year 1, an
    infinite timestamp) as the text Arrow gives them."""
    import pyarrow as pa

    try:
        return list(column.to_pylist())
    except (OverflowError, ValueError):
        return list(column.cast(pa.string()).to_pylist())


def _unique(names: list[str]) -> list[str]:
    """Column names made unique for JSON objects: the second `a` becomes `a_2`."""
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}_{seen[n]}")
    return out


def runs_list(rows: list[RunRow]) -> str:
    if not rows:
        return "No runs found."
    body = [[_when(r["finished_at"]), r["status"] or "", r["workflow_id"] or "", r["run_id"],
             seconds(r["total_time_s"]), r["model"] or "",
             _short(r["error"], 60)] for r in rows]
    text: str = tabulate(body, headers=["finished (UTC)", "status", "workflow", "run_id", "total",
                                        "model", "error"], tablefmt="plain",
                         disable_numparse=True,
                         colalign=("left", "left", "left", "left", "right", "left", "left"))
    return "\n".join(line.rstrip() for line in text.splitlines())


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _short(text: str | None, width: int) -> str:
    if not text:
        return ""
    line = _one_line(text)
    return line if len(line) <= width else line[: width - 1] + "…"


def _pct(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


def run_text(rep: RunReport, *, full: bool = False) -> str:
    r = rep.run
    out: list[str] = []
    if full:
        out += [f"Run report: {r['run_id']}", "=" * (12 + len(r["run_id"])), ""]
    else:
        out += [f"Run {r['run_id']}"]
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
    out += [f"  {k + ':':<10}{v}" for k, v in facts if v not in (None, "")]
    out.append("")
    if rep.buckets:
        base = rep.baseline
        title = "Wall time"
        if base is not None and base.run_count:
            title += (f" (vs the last {base.run_count} {base.status or ''} runs of "
                      f"{base.workflow_id})").replace("  ", " ")
        out.append(title + ":")
        body = [[b.bucket, seconds(b.seconds), _pct(b.share), seconds(b.p50), seconds(b.p95),
                 b.verdict] for b in rep.buckets]
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
        width = max(len(k) for k in [*costs, "total"])
        out += [f"  {k:<{width}}  {v:.6g}" for k, v in sorted(costs.items())]
        out.append(f"  {'total':<{width}}  {rep.cost_total:.6g}")
        out.append("")
    if r["error"]:
        out += ["Error:", *("  " + line for line in r["error"].splitlines()), ""]
    if full and r["extra"]:
        out += ["Other fields:", *(f"  {k}: {json.dumps(v, ensure_ascii=False)}"
                                   for k, v in sorted(r["extra"].items())), ""]
    return "\n".join(out).rstrip() + "\n"
