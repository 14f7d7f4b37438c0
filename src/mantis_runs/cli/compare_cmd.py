"""``mantis runs compare``: regression verdicts between two windows (docs/compare.md).

Registered on the ``runs`` group by :func:`register`; one library call
(``mantis_runs.analysis.compare``), then the text or JSON and the exit status.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from .main import Number, _similar_workflows_hint, _status, failing_with, sources_option


def _where(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    """KEY=VALUE pairs (repeatable) as a dict."""
    found: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"takes KEY=VALUE (e.g. model=claude-sonnet-4), got {item!r}")
        found[key.strip()] = value
    return found


@click.command()
@click.argument("workflow_id")
@click.option("--baseline", default="35d..7d", show_default=True, metavar="WINDOW",
              help="The baseline window: 35d..7d, 30d, 2026-11-01..2026-11-08 (UTC).")
@click.option("--current", default="7d", show_default=True, metavar="WINDOW",
              help="The current window, as --baseline.")
@click.option("--where", "where", multiple=True, callback=_where, metavar="KEY=VALUE",
              help="Narrow both windows: model, plan_signature, profile_id or tenant_id.")
@click.option("--baseline-where", multiple=True, callback=_where, metavar="KEY=VALUE",
              help="Narrow the baseline only (e.g. model=claude-sonnet-4).")
@click.option("--current-where", multiple=True, callback=_where, metavar="KEY=VALUE",
              help="Narrow the current window only.")
@click.option("--status", default="succeeded", show_default=True, callback=_status,
              help="Runs whose percentiles are compared; '' every status.")
@click.option("--bucket", "buckets", multiple=True, metavar="NAME",
              help="Only this bucket; repeat for more. total_time_s is always compared.")
@click.option("--min-ratio", type=Number(min=1.0, max=1e6), default=1.10,
              show_default=True, help="Smallest ratio that counts as a change.")
@click.option("--min-delta-s", type=Number(min=0.0, max=1e9), default=0.25,
              show_default=True, help="Smallest change in seconds that counts.")
@click.option("--alpha", type=Number(min=1e-9, max=0.5), default=0.01,
              show_default=True, help="Family-wise error rate (Holm).")
@click.option("--min-runs", type=click.IntRange(min=2, max=10**9), default=20,
              show_default=True, help="Fewer runs on a side: 'too few runs'.")
@click.option("--block", type=click.Choice(["none", "day"]), default="none", show_default=True,
              help="day: bootstrap whole days, when runs drift from day to day.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the bootstrap (the same seed gives the same numbers).")
@click.option("--group-by", metavar="ATTRIBUTE", default=None,
              help="One comparison per value of model, plan_signature, profile_id or tenant_id,"
                   " largest group first.")
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON.")
@sources_option
@failing_with(3)  # 1 means a regression: a failure must not look like one
def compare(workflow_id: str, baseline: str, current: str, where: dict[str, str],
            baseline_where: dict[str, str], current_where: dict[str, str], status: str,
            buckets: tuple[str, ...], min_ratio: float, min_delta_s: float, alpha: float,
            min_runs: int, block: str, seed: int, group_by: str | None, as_json: bool,
            data_dir: Any) -> None:
    """Which metric of WORKFLOW_ID regressed: the current window against the baseline.

    Exit status: 0 no regression, 1 a regression, 2 not enough runs (or a usage error), 3 the
    comparison failed (a missing data dir, a damaged file: one line on stderr). With --group-by:
    1 when a group regressed, else 2 when every group has too few runs, else 0.
    """
    from ..analysis.compare import compare as run_compare
    from ..analysis.verdicts import Options
    from .compare_text import compare_text
    from .insight_notes import warn_skipped

    result = run_compare(
        workflow_id, data_dir=data_dir, baseline=baseline, current=current,
        baseline_filters={**where, **baseline_where}, current_filters={**where, **current_where},
        status=status, buckets=buckets or None,
        options=Options(min_ratio=min_ratio, min_delta_s=min_delta_s, alpha=alpha,
                        min_runs=min_runs, seed=seed, block_days=block == "day"),
        group_by=group_by)
    warn_skipped(result.skipped_lines)
    if as_json:
        from .render import to_json

        click.echo(to_json(result.to_json()))
    else:
        click.echo(compare_text(result))
    if result.empty:
        _similar_workflows_hint(data_dir, workflow_id)
    sys.exit(result.exit_code)


def register(group: click.Group) -> None:
    group.add_command(compare)
