"""``mantis runs failures`` and ``mantis runs advise`` (docs/insights.md).

Registered on the ``runs`` group by :func:`register`; each makes one library call
(``mantis_runs.analysis.failures``, ``mantis_runs.analysis.advise``), then prints the text or
JSON and exits.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .insight_notes import WIDTH, clip, no_runs_hint, warn_skipped
from .main import Count, Number, _since, handle_errors, sources_option
from .text import _width, seconds, tabulate

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.advise import AdviceResult, MetricAdvice
    from ..analysis.failures import FailureClass, FailuresResult
    from ..db.lake_source import Sources

#: A week without failures, then eight levels of a weekly count up to the busiest week. The
#: empty week is a visible character: tables strip leading and trailing blanks.
_BARS = "·▁▂▃▄▅▆▇█"
#: The most weeks the text charts (the last ones; --json has them all): half a year fits.
TEXT_WEEKS = 26
#: Cells of a workflow id or run id in the text (longer ones are cut with …; never in --json).
_NAME_CELLS, _RUN_ID_CELLS = 40, 24
#: Where a class's line starts, under its counts.
_INDENT = 8
#: Cells of a metric's name in the advise table.
_METRIC_CELLS = 24
#: The mark of a p99 upper end that is the largest run of the sample.
_AT_MAX = "*"


class _Margin(Number):
    """--margin: more than 0, at most 1e6, described so (click would print
    ``0<x<=1000000.0``)."""

    def __init__(self) -> None:
        super().__init__(min=0, min_open=True, max=1e6)

    def _describe_range(self) -> str:
        return "more than 0, at most 1e6"


@click.command()
@click.argument("workflow_id", required=False)
@click.option("--since", default="30d", show_default=True, callback=_since, metavar="DUR",
              help="Failed runs finished since: 24h, 7d, 2w, or an ISO date/datetime.")
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON.")
@sources_option
@handle_errors
def failures(workflow_id: str | None, since: Any, as_json: bool,
             data_dir: Path | Sources | None) -> None:
    """Failed runs of WORKFLOW_ID (every workflow when omitted) grouped by the class of their
    error: the first line with numbers, hex ids, quoted strings, paths, URLs and IPs replaced.

    Each class has its count and share of the failures, the first and last run, the runs per
    ISO week (Monday to Sunday, UTC) and the newest run's id; without WORKFLOW_ID, the workflow
    with the most failures of the class.

    Exit status: 0 answered (also when nothing failed), 1 an error, 2 a usage error.
    """
    from ..analysis.failures import failures as run_failures

    result = run_failures(workflow_id, data_dir=data_dir, since=since)
    warn_skipped(result.skipped_lines)
    if as_json:
        from .render import to_json

        click.echo(to_json(result.to_json()))
    else:
        click.echo(failures_text(result))
    if workflow_id is not None and result.terminal == 0:
        no_runs_hint(data_dir, workflow_id)


@click.command()
@click.argument("workflow_id")
@click.option("--since", callback=_since, metavar="DUR",
              help="Only runs finished since: 30d, 2w, or an ISO date/datetime (default: all).")
@click.option("--last", type=Count(), default=None, metavar="N",
              help="Only the newest N runs (every status).")
@click.option("--margin", type=_Margin(), default=1.2, show_default=True, metavar="X",
              help="The timeout is the upper end of p99's 95% interval times X.")
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON.")
@sources_option
@handle_errors
def advise(workflow_id: str, since: Any, last: int | None, margin: float, as_json: bool,
           data_dir: Path | Sources | None) -> None:
    """Suggested timeouts for WORKFLOW_ID and each bucket: the upper end of the 95% interval of
    p99 of the succeeded runs (failed runs never count), times --margin; and the share of the
    runs, succeeded and failed, that took longer.

    Exit status: 0 a timeout for total_time_s, 1 an error, 2 not enough succeeded runs (p99's
    interval has no upper end below 368 runs) or a usage error.
    """
    from ..analysis.advise import advise as run_advise

    result = run_advise(workflow_id, data_dir=data_dir, since=since, last=last,
                        margin=margin)
    warn_skipped(result.skipped_lines)
    if as_json:
        from .render import to_json

        click.echo(to_json(result.to_json()))
    else:
        click.echo(advise_text(result))
    if result.succeeded + result.failed == 0:
        no_runs_hint(data_dir, workflow_id)
    sys.exit(0 if result.total.enough else 2)


def register(group: click.Group) -> None:
    group.add_command(failures)
    group.add_command(advise)


def _when(us: Any) -> str:
    from ..log.record import format_timestamp

    return format_timestamp(us)[:16].replace("T", " ")


def sparkline(counts: list[int]) -> str:
    """One character per week: ``·`` for none, then eight heights up to the busiest week."""
    top = max(counts, default=0)
    return "".join(_BARS[0] if n == 0 else _BARS[1 + (n * 7) // top] for n in counts)


def failures_text(r: FailuresResult) -> str:
    who = "every workflow" if r.workflow_id is None else clip(r.workflow_id, _NAME_CELLS)
    since = "all history" if r.since is None else f"since {_when(r.since)} UTC"
    rate = "" if r.failure_rate is None else f" ({r.failure_rate:.1%})"
    out = [f"Failures of {who}, {since}:",
           f"{r.failed:,} of {r.terminal:,} runs failed{rate}, {len(r.classes):,} error classes."]
    if not r.classes:
        return "\n".join(out)
    shown = min(len(r.weeks), TEXT_WEEKS)
    first, last = r.weeks[-shown].isoformat(), r.weeks[-1].isoformat()
    out.append(f"Weeks: one character per ISO week (Monday to Sunday, UTC), {first} to {last}, "
               f"{_BARS[0]} for none.")
    if shown < len(r.weeks):
        out.append(f"Only the last {shown} of {len(r.weeks):,} weeks are charted; --json has "
                   "them all.")
    rows, lines = [], []
    for c in r.classes:
        rows.append([f"{c.count:,}", f"{c.share:.1%}", _when(c.first_seen)[:10],
                     _when(c.last_seen), sparkline(c.weekly[-shown:]),
                     clip(c.example_run_id, _RUN_ID_CELLS)])
        lines.append(_class_line(c, every=r.workflow_id is None))
    table = tabulate(rows, headers=["runs", "share", "first", "last", "weeks", "newest run"],
                     disable_numparse=True, colalign=("right", "right") + ("left",) * 4)
    head, rule, *body = table.split("\n")
    out += ["", head, " " * _INDENT + "class", rule]
    for row, line in zip(body, lines, strict=True):
        out += [row, line]
    return "\n".join(out)


def _class_line(c: FailureClass, *, every: bool) -> str:
    """The line under a class's counts: the class, and without WORKFLOW the workflow with the
    most failures of it (+ how many others), each cut to fit the width."""
    room = WIDTH - _INDENT
    where = ""
    if every:
        more = f" +{len(c.workflows) - 1}" if len(c.workflows) > 1 else ""
        where = f"  (in {clip(c.workflows[0], _NAME_CELLS - len(more))}{more})"
        room -= _width(where)
    return " " * _INDENT + clip(c.error_class, room) + where


def _metric_row(m: MetricAdvice) -> list[str]:
    name = clip(m.metric, _METRIC_CELLS)
    if not m.enough:
        p99 = "—" if m.p99 is None else f"~{seconds(m.p99)}"
        return [name, f"{m.n:,}", p99, "—", "—", f"not enough runs ({m.needed_runs:,} needed)"]
    share = m.cut_share or 0.0
    upper = seconds(m.p99_upper) + (_AT_MAX if m.upper_is_max else "")
    return [name, f"{m.n:,}", seconds(m.p99), upper, seconds(m.timeout_s),
            f"{share:.2%} ({m.cut:,} of {m.judged:,})"]


def advise_text(r: AdviceResult) -> str:
    since = "all history" if r.since is None else f"since {_when(r.since)} UTC"
    window = f"newest {r.last:,} runs, {since}" if r.last is not None else since
    out = [f"Timeouts for {clip(r.workflow_id, _NAME_CELLS)} ({window}):",
           f"{r.succeeded:,} succeeded and {r.failed:,} failed runs; timeout = upper end of "
           f"p99's 95% interval × {r.margin:g}.",
           "p99 is over succeeded runs only; cut: the runs, succeeded and failed, longer than "
           "the timeout.", ""]
    metrics = [r.total, *r.buckets]
    rows = [_metric_row(m) for m in metrics]
    out.append(tabulate(rows, headers=["metric", "n", "p99", "p99 upper", "timeout", "cut"],
                        disable_numparse=True,
                        colalign=("left", "right", "right", "right", "right", "right")))
    if any(m.enough and m.upper_is_max for m in metrics):
        out.append(f"{_AT_MAX} bound is the largest run seen: too few runs for a tighter one, "
                   "so one outlier sets the timeout.")
    return "\n".join(out)
