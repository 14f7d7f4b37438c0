"""``mantis runs tail``: what makes a workflow's slow runs slow (docs/tail.md).

Registered on the ``runs`` group by :func:`register`; one library call
(``mantis_runs.analysis.tail``), then the text or JSON and the exit status.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .insight_notes import clip, no_runs_hint, warn_skipped
from .main import _since, handle_errors, sources_option
from .text import seconds, tabulate

if TYPE_CHECKING:  # pragma: no cover
    from ..analysis.enrichment import Candidate
    from ..analysis.tail import Line, TailResult
    from ..db.lake_source import Sources

#: Cells of the text's names and values (longer ones are cut with …; never in --json), so that
#: every line fits 100 columns.
_NAME_CELLS, _BUCKET_CELLS, _ATTRIBUTE_CELLS, _VALUE_CELLS = 40, 24, 16, 36


@click.command()
@click.argument("workflow_id")
@click.option("--since", default="7d", show_default=True, callback=_since, metavar="DUR",
              help="Runs finished since: 24h, 7d, 2w, or an ISO date/datetime.")
@click.option("--above", type=click.Choice(["p90", "p95", "p99"]), default="p95",
              show_default=True,
              help="The tail: runs whose total_time_s is above this percentile (p90 when fewer "
                   "than 10 succeeded runs are above it).")
@click.option("--extra-key", "extra_keys", multiple=True, metavar="KEY",
              help="Also test the values of this key of the runs' extra fields; repeatable.")
@click.option("--min-support", type=click.IntRange(min=1), default=None, metavar="N",
              help="Test values that at least N runs of the window have (default: 20 runs or "
                   "1% of the runs, whichever is more).")
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON.")
@sources_option
@handle_errors
def tail(workflow_id: str, since: Any, above: str, extra_keys: tuple[str, ...],
         min_support: int | None, as_json: bool, data_dir: Path | Sources | None) -> None:
    """What makes the slow runs of WORKFLOW_ID slow: each bucket's share of the gap between the
    tail and the typical (p40-p60) succeeded runs, and the attribute values (model,
    plan_signature, profile_id, tenant_id, error class, --extra-key) over-represented in the
    tail.

    Exit status: 0 answered, 1 an error, 2 too few runs (fewer than 10 succeeded runs above
    p90) or a usage error.
    """
    from ..analysis.tail import tail as run_tail

    result = run_tail(workflow_id, data_dir=data_dir, since=since, above=above,
                      extra_keys=extra_keys, min_support=min_support)
    warn_skipped(result.skipped_lines)
    if as_json:
        from .render import to_json

        click.echo(to_json(result.to_json()))
    else:
        click.echo(tail_text(result))
    if result.runs == 0:
        no_runs_hint(data_dir, workflow_id)
    sys.exit(result.exit_code)


def register(group: click.Group) -> None:
    group.add_command(tail)


def tail_text(r: TailResult) -> str:
    from ..log.record import format_timestamp

    since = format_timestamp(r.start)[:16].replace("T", " ")
    out = [f"Tail of {clip(r.workflow_id, _NAME_CELLS)}, runs finished since {since} UTC:"]
    if r.note:
        out.append(f"note: {r.note}.")
    if not r.enough:
        return "\n".join(out)
    assert r.band is not None and r.unbucketed is not None
    out += [f"  tail  {r.tail_runs:,} succeeded runs above {r.above} ({seconds(r.threshold)}), "
            f"mean {seconds(r.tail_mean)}",
            f"  band  {r.band_runs:,} succeeded runs from p40 to p60 ({seconds(r.band[0])} .. "
            f"{seconds(r.band[1])}), mean {seconds(r.band_mean)}", "",
            _bucket_table(r), "",
            "excess: mean in the tail - mean in the band (a run without a bucket counts 0 for "
            "it);", "share: excess / gap (the shares sum to 100%); median excess does not sum;",
            "dominant: tail runs in which the bucket exceeds the band's median the most.", ""]
    return "\n".join([*out, *_findings(r)])


def _line(label: str, x: Line) -> list[str]:
    share = "—" if x.share is None else f"{x.share * 100:.1f}%"
    return [label, seconds(x.tail_mean), seconds(x.band_mean), seconds(x.excess), share,
            seconds(x.median_excess), f"{x.dominant:,}"]


def _bucket_table(r: TailResult) -> str:
    assert r.unbucketed is not None
    gap = r.gap
    rows = [_line(clip(b.bucket, _BUCKET_CELLS), b) for b in r.buckets]
    rows.append(_line("(in no bucket)", r.unbucketed))
    rows.append(["total", seconds(r.tail_mean), seconds(r.band_mean), seconds(gap),
                 "100.0%" if gap else "—", "", ""])
    return tabulate(rows, headers=["bucket", "tail mean", "band mean", "excess", "share",
                                   "median excess", "dominant"],
                    tablefmt="simple", disable_numparse=True,
                    colalign=("left", "right", "right", "right", "right", "right", "right"))


def _p(value: float) -> str:
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def _row(c: Candidate) -> list[str]:
    return [clip(c.attribute, _ATTRIBUTE_CELLS), clip(c.value, _VALUE_CELLS),
            f"{c.tail_runs:,}", f"{c.runs:,}",
            f"×{c.lift:.2f}", _p(c.p_value), _p(c.q_value)]


def _findings(r: TailResult) -> list[str]:
    from ..analysis.enrichment import MIN_LIFT, MIN_TAIL_RUNS, Q_LEVEL

    tested = (f"{len(r.candidates)} value{'' if len(r.candidates) == 1 else 's'} tested (those "
              f"at least {r.min_support:,} runs have): one-sided Fisher exact test,\n"
              f"Benjamini-Hochberg q <= {Q_LEVEL:g}, lift >= {MIN_LIFT:g}, at least "
              f"{MIN_TAIL_RUNS} tail runs.")
    head = (f"Values over-represented in the tail ({r.runs_in_tail:,} of {r.runs:,} runs "
            f"above {seconds(r.threshold)}, failed runs included)")
    found = r.findings
    if not found:
        return [f"{head}: none.", tested]
    table = tabulate([_row(c) for c in found],
                     headers=["attribute", "value", "in tail", "runs", "lift", "p", "q (BH)"],
                     tablefmt="simple", disable_numparse=True,
                     colalign=("left", "left", "right", "right", "right", "right", "right"))
    return [f"{head}:", table, tested]
