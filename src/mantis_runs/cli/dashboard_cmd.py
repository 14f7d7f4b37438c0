"""``mantis runs dashboard``: one workflow's page, a self-contained HTML file (docs/dashboard.md).

Registered on the ``runs`` group by :func:`register`; one library call
(``mantis_runs.dashboard.build``), then the page written to ``--output`` (``-``: stdout).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .main import Count, _similar_workflows_hint, _since, handle_errors, sources_option

if TYPE_CHECKING:  # pragma: no cover
    from ..db.lake_source import Sources


@click.command()
@click.argument("workflow_id")
@click.option("--output", "-o", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
              help="Write the page to FILE (never inside the data dir); '-' for stdout.")
@click.option("--since", default="90d", show_default=True, callback=_since, metavar="DUR",
              help="The page's window: 90d, 12w, or an ISO date/datetime (UTC).")
@click.option("--last", type=Count(), default=100, show_default=True, metavar="N",
              help="The stats table is over the newest N runs of the window.")
@sources_option
@handle_errors
def dashboard(workflow_id: str, output: Path, since: Any, last: int,
              data_dir: Path | Sources | None) -> None:
    """One self-contained HTML page for WORKFLOW_ID: the stats table, compare's verdicts of the
    last week against the four before, and their charts. It opens offline: no script, nothing
    fetched."""
    from ..dashboard import build, render_html
    from .outfile import check_output_file

    to_stdout = str(output) == "-"
    if not to_stdout:
        check_output_file(data_dir, output)  # before the reads: a refused FILE costs nothing
    data = build(workflow_id, data_dir=data_dir, since=since, last=last)
    page = render_html(data)
    if to_stdout:
        click.echo(page, nl=False)
    else:
        output.write_text(page, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    if data.stats.run_count == 0 and data.compare.empty:
        _similar_workflows_hint(data_dir, workflow_id)


def register(group: click.Group) -> None:
    group.add_command(dashboard)
