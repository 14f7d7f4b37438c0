"""The ``mantis`` command line.

Each command parses its options, makes one library call, renders the result and maps errors to
exit codes. No SQL and no maths here. Heavy modules are imported inside the commands so that
``mantis --help`` stays fast.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .. import __version__
from ..errors import MantisError, UsageError

F = TypeVar("F", bound=Callable[..., Any])
MAX_LAST = 2**62  # a SQL LIMIT is a 64-bit integer

DATA_DIR_HELP = (
    "Data directory. Default: $MANTIS_DATA_DIR, else the platform default "
    "(/workspace/mantis-data on Baseten, /data/mantis-runs on Modal), "
    "else ~/.local/share/mantis."
)


def data_dir_option(f: F) -> F:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=DATA_DIR_HELP,
    )(f)


def handle_errors(f: F) -> F:
    """Turn library errors into one line on stderr and an exit status; never a traceback."""

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return f(*args, **kwargs)
        except UsageError as exc:
            raise click.UsageError(str(exc)) from None
        except MantisError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
                       err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None or value == "":
        return None
    from ..log.timewindow import parse_since

    try:
        return parse_since(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix("--since ")) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mantis")
def main() -> None:
    """mantis: an embedded analytical store for run history."""
    from .render import warning

    logging.basicConfig(level=logging.WARNING, format=warning("%(message)s"), stream=sys.stderr)


@main.group()
def runs() -> None:
    """Record, query and compact the run log."""


@runs.command()
@click.argument("workflow_id")
@click.option("--last", type=click.IntRange(min=1, max=MAX_LAST), default=100, show_default=True,
              help="Newest N matching runs (by finished_at, ties by run_id).")
@click.option("--bucket", "buckets", multiple=True, metavar="NAME",
              help="Only this wall-time bucket; repeat for more. total_time_s is always shown.")
@click.option("--since", callback=_since, metavar="DUR",
              help="Only runs finished since: 30m, 24h, 7d, 2w, or an ISO date/datetime.")
@click.option("--status", default="succeeded", show_default=True,
              help="Terminal status to include; '' includes every status.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of a table.")
@data_dir_option
@handle_errors
def stats(workflow_id: str, last: int, buckets: tuple[str, ...], since: Any, status: str,
          as_json: bool, data_dir: Path | None) -> None:
    """p50, p95 and p99 per wall-time bucket across the newest runs of WORKFLOW_ID."""
    from ..stats import stats as run_stats
    from . import render

    result = run_stats(workflow_id, data_dir=data_dir, last=last, since=since, status=status,
                       buckets=buckets or None)
    warning = render.skipped_warning(result.skipped_lines)
    if warning:
        click.echo(warning, err=True)
    click.echo(render.to_json(result.to_json()) if as_json else render.stats_text(result))


@runs.command()
@click.option("--runs", "n_runs", type=click.IntRange(min=1, max=1_000_000), default=600,
              show_default=True, help="How many runs to write.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the demo history. Default: a new folder under the system "
                   "temp dir (never your real log).")
@handle_errors
def demo(n_runs: int, data_dir: Path | None) -> None:
    """Write a realistic 90-day history through the real writer, then query it."""
    from ..demo import new_demo_dir, write_demo
    from ..stats import stats as run_stats
    from . import render

    target = data_dir if data_dir is not None else new_demo_dir()
    result = write_demo(target, n_runs)
    if result.written == 0:
        raise MantisError(f"no demo run could be written to {target}")
    click.echo(f"Wrote {result.written} runs of {result.workflows} workflows to {target}\n")
    click.echo(render.stats_text(run_stats(result.busiest, data_dir=target)))
    d = _quote(str(target))
    click.echo(
        "\nNext, try:\n"
        f"  mantis runs stats {result.busiest} --data-dir {d} --since 7d\n"
        f"  mantis runs stats {result.busiest} --data-dir {d} --status '' --bucket settle --json\n"
        f"  export MANTIS_DATA_DIR={d}"
    )


@runs.command()
@click.option("--month", "months", multiple=True, metavar="YYYY-MM",
              help="Only this closed month; repeat for more. Default: every closed month. "
                   "(Open months are still checkpointed, unless --no-checkpoint.)")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--grace", default="1d", show_default=True, metavar="DUR",
              help="A month closes this long after it ends (margin for clock skew).")
@click.option("--wait", type=click.FloatRange(min=0), default=0, show_default=True,
              metavar="SECONDS",
              help="Wait this long for another running compaction; then give up (exit 0).")
@click.option("--memory-limit", default="400MB", show_default=True,
              help="DuckDB memory limit while compacting (it spills to the data dir beyond).")
@click.option("--checkpoint-min-mb", type=click.IntRange(min=0), default=16, show_default=True,
              metavar="MB",
              help="Checkpoint a live shard once this many MB (10^6 bytes) of it are not in "
                   "its checkpoint; 0: whenever anything is new.")
@click.option("--no-checkpoint", is_flag=True,
              help="Leave live shards alone (no checkpoints of the open months).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@data_dir_option
@handle_errors
def compact(months: tuple[str, ...], dry_run: bool, grace: str, wait: float, memory_limit: str,
            checkpoint_min_mb: int, no_checkpoint: bool, as_json: bool,
            data_dir: Path | None) -> None:
    """Convert closed months to zstd Parquet: each row exactly once, safe to run any time."""
    from ..compaction import CompactionBusy
    from ..compaction import compact as run_compact
    from ..log.timewindow import parse_duration
    from . import render

    say = (lambda msg: click.echo(msg, err=True)) if sys.stderr.isatty() and not as_json else None
    try:
        report = run_compact(data_dir, months=months or None, dry_run=dry_run,
                             grace=parse_duration(grace, "--grace"), wait=wait,
                             memory_limit=memory_limit, progress=say,
                             checkpoint_min_bytes=(None if no_checkpoint
                                                   else checkpoint_min_mb * 1_000_000))
    except CompactionBusy as exc:
        click.echo(str(exc), err=True)
        return
    click.echo(render.to_json(report.to_json()) if as_json else render.compaction_text(report))


@runs.command(name="sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]),
              default="table", show_default=True, help="Output format.")
@data_dir_option
@handle_errors
def sql_command(query: str, fmt: str, data_dir: Path | None) -> None:
    """Run one SQL QUERY over the views runs, run_buckets, run_costs and runs_bad_lines."""
    from ..store import RunStore
    from . import render

    result = RunStore(data_dir).query(query)
    text = render.arrow_table(result.table, fmt, json_columns=result.json_columns)
    click.echo(text, nl=bool(text))  # jsonl of no rows is no output at all, not a blank line


@runs.command()
@data_dir_option
@handle_errors
def views(data_dir: Path | None) -> None:
    """Print the SQL that defines the views, for any DuckDB client (a snapshot of the files)."""
    from .shell import views_script

    click.echo(views_script(data_dir), nl=False)


@runs.command(context_settings={"ignore_unknown_options": True})
@click.argument("duckdb_args", nargs=-1, type=click.UNPROCESSED)
@data_dir_option
@handle_errors
def shell(duckdb_args: tuple[str, ...], data_dir: Path | None) -> None:
    """Open the DuckDB shell with the views defined (needs the 'shell' extra).

    Extra arguments go to duckdb, e.g. mantis runs shell -- -c "FROM runs LIMIT 5".
    """
    from .shell import run_shell

    sys.exit(run_shell(data_dir, list(duckdb_args)))


@runs.command(name="list")
@click.argument("workflow_id", required=False)
@click.option("--last", type=click.IntRange(min=1, max=MAX_LAST), default=20, show_default=True,
              help="How many runs, newest first.")
@click.option("--since", callback=_since, metavar="DUR",
              help="Only runs finished since: 30m, 24h, 7d, 2w, or an ISO date/datetime.")
@click.option("--status", default="", help="Only this status (default: every status).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of runs.")
@data_dir_option
@handle_errors
def list_runs(workflow_id: str | None, last: int, since: Any, status: str, as_json: bool,
              data_dir: Path | None) -> None:
    """The newest runs, one line each (of WORKFLOW_ID when given)."""
    from ..store import RunStore, row_to_json
    from . import render

    rows = RunStore(data_dir).runs(workflow_id, last=last, since=since, status=status)
    if as_json:
        click.echo(render.to_json([render.plain(row_to_json(r)) for r in rows]))
    else:
        click.echo(render.runs_list(rows))


@runs.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the post-mortem as JSON.")
@data_dir_option
@handle_errors
def show(run_id: str, as_json: bool, data_dir: Path | None) -> None:
    """One run's post-mortem: buckets against its workflow's p50/p95, cost and error."""
    from ..store import RunStore
    from . import render

    rep = RunStore(data_dir).report(run_id)
    click.echo(render.to_json(render.plain(rep.to_json())) if as_json else render.run_text(rep),
               nl=as_json)


@runs.command()
@click.option("--latest", "latest", is_flag=True, help="Report the newest run (the default).")
@click.option("--run-id", default=None, help="Report this run.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Output format.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report to this file instead of stdout.")
@data_dir_option
@handle_errors
def report(latest: bool, run_id: str | None, fmt: str, output: Path | None,
           data_dir: Path | None) -> None:
    """A full report of one run, as text or JSON."""
    from ..store import RunStore
    from . import render

    if latest and run_id:
        raise UsageError("give --latest or --run-id, not both")
    rep = RunStore(data_dir).report(run_id)
    text = (render.to_json(render.plain(rep.to_json())) + "\n" if fmt == "json"
            else render.run_text(rep, full=True))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@runs.command()
@click.argument("run_id")
@click.option("--interval", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              metavar="S", help="Seconds between checks.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None, metavar="S",
              help="Give up after this many seconds (exit 2). Default: wait forever.")
# Not data_dir_option: a data dir that is a file must be exit 1 ("cannot be read"), not click's
# usage error (exit 2, which means a timeout here).
@click.option("--data-dir", type=click.Path(path_type=Path), metavar="DIRECTORY", default=None,
              help=DATA_DIR_HELP)
def watch(run_id: str, interval: float, timeout: float | None, data_dir: Path | None) -> None:
    """Wait for RUN_ID's terminal row: exit 0 if it succeeded, 1 if it failed or cannot be
    read, 2 on timeout."""
    from ..store.watch import WatchOutcome, watch_run
    from . import render

    result = watch_run(run_id, data_dir=data_dir, interval=interval, timeout=timeout)
    code = {WatchOutcome.SUCCEEDED: 0, WatchOutcome.FAILED: 1, WatchOutcome.UNREADABLE: 1,
            WatchOutcome.TIMED_OUT: 2}[result.outcome]
    click.echo(render.watch_text(result), err=code != 0)
    sys.exit(code)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


if __name__ == "__main__":  # pragma: no cover
    main()
