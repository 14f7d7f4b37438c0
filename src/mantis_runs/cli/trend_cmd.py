"""``mantis runs trend``: p50, p95 and n per day or week, and when they changed (docs/trend.md).

Registered on the ``runs`` group by :func:`register`; one library call
(``mantis_runs.analysis.trend``), then the text or JSON, and with ``--plot`` the chart
(``mantis_runs.analysis.trend_plot``, the ``plot`` extra).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .insight_notes import warn_skipped
from .main import _similar_workflows_hint, _since, _status, handle_errors, sources_option

if TYPE_CHECKING:  # pragma: no cover
    from ..db.lake_source import Sources


def _plot_path(ctx: click.Context, param: click.Parameter, value: Path | None) -> Any:
    if value is not None and value.suffix.lower() not in (".png", ".svg"):
        raise click.BadParameter(f"takes a file ending in .png or .svg, got {str(value)!r}")
    return value


@click.command()
@click.argument("workflow_id")
@click.option("--every", type=click.Choice(["1d", "1w"]), default=None,
              help="Periods: UTC days or weeks (Monday to Sunday). Default: days, or weeks when "
                   "the median day has fewer than 20 runs (said so).")
@click.option("--since", default="90d", show_default=True, callback=_since, metavar="DUR",
              help="From the day (or week) of: 90d, 2w, or an ISO date/datetime.")
@click.option("--bucket", "buckets", multiple=True, metavar="NAME",
              help="Only this bucket; repeat for more. total_time_s is always shown.")
@click.option("--status", default="succeeded", show_default=True, callback=_status,
              help="Runs whose percentiles are shown; '' every status.")
@click.option("--detect", is_flag=True,
              help="Find change points (PELT) and check each with compare's verdict on the "
                   "runs either side.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the verdicts' bootstrap (--detect).")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path), default=None,
              callback=_plot_path, metavar="FILE.png|FILE.svg",
              help="Also draw the chart into this file (needs the 'plot' extra).")
@click.option("--json", "as_json", is_flag=True, help="Print every number as JSON.")
@sources_option
@handle_errors
def trend(workflow_id: str, every: str | None, since: Any, buckets: tuple[str, ...],
          status: str, detect: bool, seed: int, plot: Path | None, as_json: bool,
          data_dir: Path | Sources | None) -> None:
    """p50, p95 and n of WORKFLOW_ID's runs per day or week, for total_time_s and each bucket
    (p95 only from 72 runs a period); with --detect, when they changed.

    Exit status: 0 (also when no run is found), 1 an error, 2 a usage error.
    """
    from ..analysis.trend import trend as run_trend

    if plot is not None:  # fail before reading when the extra is missing or FILE is refused
        from ..analysis.trend_plot import check_installed
        from .outfile import check_output_file

        check_installed()
        check_output_file(data_dir, plot)
    result = run_trend(workflow_id, data_dir=data_dir, since=since or "90d", every=every,
                       buckets=buckets or None, status=status, detect=detect, seed=seed)
    warn_skipped(result.skipped_lines)
    if as_json:
        from .render import to_json

        click.echo(to_json(result.to_json()))
    else:
        from .trend_text import trend_text

        click.echo(trend_text(result, spark=sys.stdout.isatty()))
    if plot is not None:
        from ..analysis.trend_plot import write_plot

        write_plot(result, plot)
        click.echo(f"wrote {plot}", err=True)
    if result.empty:
        _similar_workflows_hint(data_dir, workflow_id)


def register(group: click.Group) -> None:
    group.add_command(trend)
