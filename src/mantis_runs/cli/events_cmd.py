"""``mantis runs events`` and ``mantis runs status``: run events, and what a run is doing
(docs/events.md, "Reading events").

Registered on the ``runs`` group by :func:`register`; each makes one library call
(``RunStore.events``, ``store.follow.follow``, ``RunStore.status``) and renders it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import UsageError
from .compare_cmd import _where  # KEY=VALUE pairs, as --where takes them
from .main import (
    Count,
    Seconds,
    _since,
    handle_errors,
    local_data_dir_option,
    stale_after_option,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..store import RunStore
    from ..store.events import RunStatus

#: Exit status of `events --follow` stopped by Ctrl-C (SIGINT): 128 + 2, as a shell reports it.
FOLLOW_INTERRUPTED_EXIT = 130
#: How many events `events` shows across runs unless --last says otherwise.
EVENTS_LAST = 50


def stale(stale_after: float | None) -> float:
    """``--stale-after``, or the library's default (store/events.py ``LOST_AFTER_S``)."""
    from ..store.events import LOST_AFTER_S

    return LOST_AFTER_S if stale_after is None else stale_after


@click.command()
@click.argument("run_id", required=False)
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only events of this type; repeat for more.")
@click.option("--workflow", default=None, metavar="WF",
              help="Only events of runs whose run_started names this workflow.")
@click.option("--since", callback=_since, metavar="DUR",
              help="Only events since: 30m, 24h, 7d, 2w, or an ISO date/datetime.")
@click.option("--field", "fields", multiple=True, callback=_where, metavar="KEY=VALUE",
              help="Only events whose field KEY is VALUE (as text); repeat for more.")
@click.option("--last", type=Count(), default=None, metavar="N",
              help=f"The newest N events (default {EVENTS_LAST} across runs; all of one run's;"
                   " with --follow, of the --since backlog).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of events.")
@click.option("--jsonl", "as_jsonl", is_flag=True, help="Print one JSON object per event.")
@click.option("--follow", is_flag=True,
              help="Keep printing new events as they are written, until Ctrl-C (exit 130).")
@click.option("--interval", type=Seconds(min=0.05, max=3600), default=0.5, show_default=True,
              metavar="S", help="With --follow: seconds between looks at the events files.")
@local_data_dir_option
@handle_errors
def events(run_id: str | None, types: tuple[str, ...], workflow: str | None, since: Any,
           fields: dict[str, str], last: int | None, as_json: bool, as_jsonl: bool,
           follow: bool, interval: float, data_dir: Path | None) -> None:
    """Run events: across runs newest first, or RUN_ID's in the order they were written.

    --follow prints each new matching event once, in the order written, until interrupted.
    """
    from ..store import RunStore

    if as_json and as_jsonl:
        raise click.UsageError("give --json or --jsonl, not both")
    if follow and as_json:
        raise click.UsageError("--follow prints a stream: use --jsonl, not --json")
    options: dict[str, Any] = {"types": types or None, "workflow_id": workflow,
                               "since": since, "fields": fields or None}
    if follow:
        _follow(RunStore(data_dir).data_dir, run_id, options, last, as_jsonl, interval)
        return
    if last is None and run_id is None:
        last = EVENTS_LAST
    found = RunStore(data_dir).events(run_id, last=last, **options)
    _print(found, as_json=as_json, as_jsonl=as_jsonl)


def _print(found: list[Any], *, as_json: bool, as_jsonl: bool) -> None:
    from ..store.events import event_to_json
    from . import render
    from .values import json_text, plain

    if as_json:
        click.echo(render.to_json([event_to_json(e) for e in found]))
    elif as_jsonl:
        for e in found:
            click.echo(json_text(plain(event_to_json(e))))
    else:
        click.echo(render.events_text(found))


def _follow(data_dir: Path, run_id: str | None, options: dict[str, Any], last: int | None,
            as_jsonl: bool, interval: float) -> None:
    from ..store.events import EventFilter
    from ..store.follow import follow
    from . import render

    flt = EventFilter(one_run=run_id, types=options["types"], since=options["since"],
                      workflow=options["workflow_id"], fields=options["fields"])
    try:
        for batch in follow(data_dir, flt, last=last, interval=interval):
            if batch:
                if as_jsonl:
                    _print(batch, as_json=False, as_jsonl=True)
                else:
                    click.echo("\n".join(render.event_line(e) for e in batch))
                sys.stdout.flush()
    except KeyboardInterrupt:
        sys.stdout.flush()
        sys.exit(FOLLOW_INTERRUPTED_EXIT)


@click.command()
@click.argument("run_id")
@stale_after_option
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@local_data_dir_option
@handle_errors
def status(run_id: str, stale_after: float | None, as_json: bool,
           data_dir: Path | None) -> None:
    """Whether RUN_ID is pending, running, succeeded, failed or lost, and how that is known
    (its terminal row, a recent event, or inference); its progress and last event."""
    from ..db.connecting import connect_ahead

    connect_ahead()  # the point lookup's connection starts while the store's modules load
    from ..store import RunStore
    from . import render

    state = RunStore(data_dir).status(run_id, stale_after=stale(stale_after))
    click.echo(render.to_json(state.to_json()) if as_json else render.status_text(state))


def list_open(store: RunStore, workflow_id: str | None, *, running: bool, lost: bool,
              since: Any, stale_after: float | None, as_json: bool) -> None:
    """``mantis runs list --running`` / ``--lost`` (both: every open run); ``list``'s
    ``--last`` and ``--status``, which do not apply, are refused when given."""
    from ..store.events import OPEN_SINCE
    from . import render

    ctx = click.get_current_context()
    given = [f"--{name}" for name in ("last", "status")
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT]
    if given:
        raise UsageError(f"{' and '.join(given)} {'do' if len(given) > 1 else 'does'} not "
                         "apply to --running/--lost: every open run started since --since is "
                         "listed")
    only_running = running and not lost  # store.running: only those are read
    found = (store.running if only_running else store.open_runs)(
        since=since or OPEN_SINCE, stale_after=stale(stale_after))
    keep = {"running"} if only_running else {"lost"} if lost and not running else {
        "running", "lost"}
    chosen = [s for s in found if s.status in keep
              and (workflow_id is None or s.workflow_id == workflow_id)]
    if as_json:
        click.echo(render.to_json([s.to_json() for s in chosen]))
    else:
        click.echo(render.open_runs_list(chosen, " or ".join(sorted(keep))))


def progress_printer() -> Callable[[RunStatus], None]:
    """``watch``'s progress: a line on stderr each time what the run's events say changes."""
    from . import render

    shown: list[str] = []

    def show(state: RunStatus) -> None:
        line = render.watch_status(state)
        if not shown or shown[-1] != line:
            shown[:] = [line]
            click.echo(line, err=True)

    return show


def register(group: click.Group) -> None:
    group.add_command(events)
    group.add_command(status)
