"""The forensics commands: ``list``, ``show``, ``report`` and ``watch`` (registered on the
``runs`` group by :func:`register`; one library call each, docs/cli.md)."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import click

from ..errors import UsageError
from .main import (
    Count,
    Seconds,
    _similar_workflows_hint,
    _since,
    _status,
    file_sources_option,
    handle_errors,
    sources_option,
    stale_after_option,
)


@click.command(name="list")
@click.argument("workflow_id", required=False)
@click.option("--last", type=Count(), default=20, show_default=True, metavar="N",
              help="How many runs, newest first; at least 1.")
@click.option("--since", callback=_since, metavar="DUR",
              help="Only runs finished since: 30m, 24h, 7d, 2w, or an ISO date/datetime "
                   "(--running, --lost: started since; default 7d).")
@click.option("--status", default="", callback=_status,
              help="Only this status: succeeded or failed (default: every status).")
@click.option("--running", is_flag=True,
              help="Runs started (a run_started event) with no terminal row and a recent event.")
@click.option("--lost", is_flag=True,
              help="Runs started with no terminal row and no event for over --stale-after.")
@stale_after_option
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of runs.")
@sources_option
@handle_errors
def list_runs(workflow_id: str | None, last: int, since: Any, status: str, running: bool,
              lost: bool, stale_after: float | None, as_json: bool,
              data_dir: Any) -> None:
    """The newest runs, one line each (of WORKFLOW_ID when given); with --running or --lost,
    the runs started that have not finished (docs/events.md)."""
    _connect_ahead(data_dir, table=not as_json, events=running or lost)
    from ..store import RunStore, row_to_json
    from . import render, values

    if running or lost:
        from .events_cmd import list_open  # refuses --last and --status

        list_open(RunStore(data_dir), workflow_id, running=running, lost=lost, since=since,
                  stale_after=stale_after, as_json=as_json)
        return
    rows = RunStore(data_dir).runs(workflow_id, last=last, since=since, status=status)
    if as_json:
        click.echo(render.to_json([values.plain(row_to_json(r)) for r in rows]))
    else:
        click.echo(render.runs_list(rows))
    if not rows and workflow_id is not None:
        _similar_workflows_hint(data_dir, workflow_id)


@click.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the post-mortem as JSON.")
@sources_option
@handle_errors
def show(run_id: str, as_json: bool, data_dir: Any) -> None:
    """One run's post-mortem: buckets against its workflow's p50/p95, cost and error. A run
    with events and no terminal row: its status (pending, running, lost) and events."""
    _connect_ahead(data_dir, table=not as_json)
    from ..store import RunStore
    from . import render, values

    rep = RunStore(data_dir).show(run_id)
    click.echo(render.to_json(values.plain(rep.to_json())) if as_json
               else render.report_text(rep), nl=as_json)


@click.command()
@click.option("--latest", "latest", is_flag=True, help="Report the newest run (the default).")
@click.option("--run-id", default=None, help="Report this run.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file instead of stdout.")
@sources_option
@handle_errors
def report(latest: bool, run_id: str | None, fmt: str, output: Path | None,
           data_dir: Any) -> None:
    """A full report of one run, as text or JSON."""
    if latest and run_id:
        raise UsageError("give --latest or --run-id, not both")
    _connect_ahead(data_dir, table=fmt == "text")
    from ..store import RunStore
    from . import render, values

    store = RunStore(data_dir)
    rep = store.report() if run_id is None else store.show(run_id)  # show: unfinished runs too
    text = (render.to_json(values.plain(rep.to_json())) + "\n" if fmt == "json"
            else render.report_text(rep, full=True))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


def _connect_ahead(data_dir: Any, *, table: bool, events: bool = False) -> None:
    """Start DuckDB for the lookup's session (db/connecting.py) while the store's modules
    load, when the read is of one local data dir (the lookups' shortcuts read one); with
    ``table``, import the table renderer (tabulate, cli/cells.py) on a helper
    thread, which runs while the library call waits for DuckDB; with ``events``, a session with
    the events macros (``list --running/--lost``)."""
    if data_dir is None or isinstance(data_dir, Path):
        from ..db.connecting import connect_ahead

        connect_ahead(events=events)
    if table:
        from .cells import tabulate_module

        threading.Thread(target=tabulate_module, daemon=True).start()


#: `mantis runs watch`'s exit status on timeout: timeout(1)'s, distinct from a usage error (2).
WATCH_TIMEOUT_EXIT = 124


@click.command()
@click.argument("run_id")
@click.option("--interval", type=Seconds(min=0.05, max=86400), default=2.0, show_default=True,
              metavar="S", help="Seconds between checks.")
@click.option("--timeout", type=Seconds(min=0), default=None, metavar="S",
              help=f"Give up after this many seconds (exit {WATCH_TIMEOUT_EXIT}). "
                   "Default (or inf): wait forever.")
# A local data dir that is a file is exit 1 ("cannot be read", as when it turns into one while
# watching), not click's usage error: file_sources_option.
@file_sources_option
@stale_after_option
@handle_errors
def watch(run_id: str, interval: float, timeout: float | None, data_dir: Path | None,
          stale_after: float | None) -> None:
    """Wait for RUN_ID's terminal row: exit 0 if it succeeded, 1 if it failed, is lost or
    cannot be read, 124 on timeout (as timeout(1) does; 2 is a usage error). Its progress,
    from its events, is shown on stderr while it runs."""
    _connect_ahead(data_dir, table=False)
    from ..store.watch import WatchOutcome, watch_run
    from . import render
    from .events_cmd import progress_printer, stale

    result = watch_run(run_id, data_dir=data_dir, interval=interval, timeout=timeout,
                       on_status=progress_printer(), stale_after=stale(stale_after))
    code = {WatchOutcome.SUCCEEDED: 0, WatchOutcome.FAILED: 1, WatchOutcome.UNREADABLE: 1,
            WatchOutcome.LOST: 1, WatchOutcome.TIMED_OUT: WATCH_TIMEOUT_EXIT}[result.outcome]
    click.echo(render.watch_text(result), err=code != 0)
    sys.exit(code)


def register(group: click.Group) -> None:
    for command in (list_runs, show, report, watch):
        group.add_command(command)
