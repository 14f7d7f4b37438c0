"""The ``mantis`` command line.

Each command parses its options, makes one library call, renders the result and maps errors to
exit codes. No SQL and no maths here. Heavy modules are imported inside the commands so that
``mantis --help`` stays fast.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .. import __version__
from ..errors import MantisError, UsageError
from ..log.schema import ATTRIBUTES

if TYPE_CHECKING:  # pragma: no cover
    from ..db.lake_source import Sources

F = TypeVar("F", bound=Callable[..., Any])
MAX_LAST = 2**62  # a SQL LIMIT is a 64-bit integer

DATA_DIR_HELP = (
    "Data directory. Default: $MANTIS_DATA_DIR, else the platform default "
    "(/workspace/mantis-data on Baseten, /data/mantis-runs on Modal), "
    "else ~/.local/share/mantis."
)


def stale_after_option(f: F) -> F:
    """``--stale-after S`` of ``status``, ``list`` and ``watch`` (docs/events.md)."""
    return click.option(
        "--stale-after", type=Seconds(min=0), default=None, metavar="S",
        help="A started run with no terminal row and no event for longer than this many "
             "seconds is lost (default: 900, 15 minutes; inf: never lost).")(f)


def data_dir_option(f: F) -> F:
    """``--data-dir``: one local data dir. Commands that read lakes and several data dirs
    take ``sources_option`` instead."""
    return click.option(
        "--data-dir",
        type=_LocalDir(file_okay=False, path_type=Path),
        default=None,
        help=DATA_DIR_HELP,
    )(f)


local_data_dir_option = data_dir_option  # commands that change or check one store


#: The commands whose --data-dir may be a lake URI, or given more than once (sources_option).
LAKE_READERS = ("stats", "compare", "list", "show", "report", "sql", "trend", "tail", "failures",
                "advise", "watch", "dashboard")


class _LocalDir(click.Path):
    """A local path, for the commands that change or check one store, or read what only a data
    dir holds (events); a lake URI is refused with one line (no usage text) and exit status 2,
    without echoing the URI (it may hold credentials)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        if isinstance(value, str) and "://" in value:
            command = f"`{ctx.info_name}`" if ctx is not None else "this command"
            click.echo(f"error: {value.split('://', 1)[0]}://... is a lake URI: {command} "
                       f"works on one local data dir ({', '.join(LAKE_READERS[:-1])} and "
                       f"{LAKE_READERS[-1]} read lakes)", err=True)
            raise click.exceptions.Exit(2)
        return super().convert(value, param, ctx)


READ_DIR_HELP = (DATA_DIR_HELP + " Or a lake table (s3://bucket/prefix, file:///path; "
                 "docs/lake.md). Repeat to read several at once: each run once, its winning "
                 "copy across all of them.")


def sources_option(f: F, *, file_okay: bool = False) -> F:
    """``--data-dir`` of the commands that read several places: data dirs and lake tables,
    repeatable, with the lake's ``--endpoint``, ``--region`` and ``--allow-http`` (read before
    it: eager). The command gets None, a Path or ``db.lake_source.Sources``. ``file_okay``: a
    local value that names a file reaches the library (``watch``: its own exit status then)."""
    f = click.option("--data-dir", "data_dir", multiple=True, metavar="DIR|URI",
                     callback=functools.partial(_data_dirs, file_okay=file_okay),
                     help=READ_DIR_HELP)(f)
    for name, flag, what in (
            ("endpoint", False, "A lake's S3-compatible endpoint. Default: $AWS_ENDPOINT_URL."),
            ("region", False, "A lake's region. Default: $AWS_REGION."),
            ("allow_http", True, "Allow a plain-http lake endpoint (AWS_ALLOW_HTTP=true).")):
        f = click.option(f"--{name.replace('_', '-')}", is_flag=flag, default=None,
                         metavar=None if flag else name.upper(), expose_value=False,
                         is_eager=True, callback=_lake_store, help=what)(f)
    return f


def _lake_store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None and param.name:
        ctx.meta.setdefault("mantis_lake_store", {})[param.name] = value


def file_sources_option(f: F) -> F:
    """``sources_option`` whose local values may name a file (``watch``)."""
    return sources_option(f, file_okay=True)


def _data_dirs(ctx: click.Context, param: click.Parameter, values: tuple[str, ...], *,
               file_okay: bool = False) -> Any:
    """The values of ``--data-dir`` as the library takes them (cli/lake.py
    ``read_sources``); a lake that cannot be opened is one line and exit status 1."""
    from .lake import is_uri, read_sources

    local = click.Path(file_okay=file_okay)
    for value in values:
        if not is_uri(value):
            local.convert(value, param, ctx)
    try:
        return read_sources(values, **ctx.meta.get("mantis_lake_store", {}))
    except UsageError as exc:
        raise click.BadParameter(str(exc)) from None
    except MantisError as exc:
        click.echo(f"error: {exc}", err=True)
        ctx.exit(exc.exit_code)


def handle_errors(f: F) -> F:
    """Turn library errors into one line on stderr and an exit status; never a traceback."""
    return failing_with(1)(f)


def failing_with(code: int) -> Callable[[F], F]:
    """``handle_errors``, with exit status ``code`` for a failure (not a usage error): for a
    command whose exit status 1 means an answer (``compare``: a regression)."""

    def decorate(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return f(*args, **kwargs)
            except UsageError as exc:
                raise click.UsageError(str(exc)) from None
            except MantisError as exc:
                click.echo(f"error: {exc}", err=True)
                sys.exit(code if exc.exit_code == 1 else exc.exit_code)
            except OSError as exc:
                click.echo(f"error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "),
                           err=True)
                sys.exit(code)

        return wrapper  # type: ignore[return-value]

    return decorate


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None or value == "":
        return None
    from ..log.timewindow import parse_since

    try:
        return parse_since(value)
    except UsageError as exc:
        # the library names its argument ("since ...", or "--since ..." in older texts)
        raise click.BadParameter(str(exc).removeprefix("--since ").removeprefix("since ")) \
            from None


def _status(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    """--status: '' or one of the terminal statuses (the library's check), else a usage error."""
    from ..log.timewindow import checked_status

    try:
        checked_status(value)
    except UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix("status ")) from None
    return value


class Count(click.types.IntParamType):
    """--last: a number of runs, at least 1 (and at most MAX_LAST). Not click.IntRange, whose
    --help would print the 19-digit maximum."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        n = super().convert(value, param, ctx)
        if n < 1:
            self.fail(f"{n} is less than 1.", param, ctx)
        if n > MAX_LAST:
            self.fail(f"{n} is more than {MAX_LAST}.", param, ctx)
        return n


class Number(click.FloatRange):
    """A number in a range. click's FloatRange lets ``nan`` through (it fails no comparison, so
    it is in every range): refused here. ``inf`` passes only a range without a maximum."""

    name = "number"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        rv = super().convert(value, param, ctx)
        if math.isnan(rv):
            self.fail(f"{value!r} is not a {self.name}.", param, ctx)
        return rv


class Seconds(Number):
    """A number of seconds for an option (as a deadline, ``nan`` would never be reached).
    ``inf`` passes only a range without a maximum, where it means no limit."""

    name = "number of seconds"


def _similar_workflows_hint(data_dir: Path | Sources | None, workflow_id: str) -> None:
    """After an empty answer: the store's workflow ids that look like ``workflow_id``, on
    stderr, when no run has it at all (a typo). Only a hint: the answer is out already, so a
    failure to read the workflow ids changes neither it nor the exit status."""
    from ..store import RunStore
    from .text import visible

    try:
        similar = RunStore(data_dir).similar_workflows(workflow_id)
    except (MantisError, OSError):
        return
    if similar:
        click.echo(f"hint: no run has the workflow {visible(workflow_id)}; similar ones: "
                   f"{', '.join(visible(w) for w in similar)}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="mantis")
def main() -> None:
    """mantis: an embedded analytical store for run history."""
    from .text import warning

    logging.basicConfig(level=logging.WARNING, format=warning("%(message)s"), stream=sys.stderr)


@main.group()
def runs() -> None:
    """Record, query and compact the run log."""


@runs.command()
@click.argument("workflow_id")
@click.option("--last", type=Count(), default=100, show_default=True, metavar="N",
              help="Newest N matching runs (by finished_at, ties by run_id); at least 1.")
@click.option("--bucket", "buckets", multiple=True, metavar="NAME",
              help="Only this wall-time bucket; repeat for more. total_time_s is always shown.")
@click.option("--since", callback=_since, metavar="DUR",
              help="Only runs finished since: 30m, 24h, 7d, 2w, or an ISO date/datetime.")
@click.option("--status", default="succeeded", show_default=True, callback=_status,
              help="Terminal status to include: succeeded or failed; '' includes every status.")
@click.option("--ci", is_flag=True,
              help="Also show each percentile's 95% interval (distribution-free: order "
                   "statistics; an open end means too few runs).")
@click.option("--group-by", type=click.Choice(ATTRIBUTES), default=None,
              help="One block per value of this attribute, the most runs first, over the same "
                   "newest runs.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of a table.")
@sources_option
@handle_errors
def stats(workflow_id: str, last: int, buckets: tuple[str, ...], since: Any, status: str,
          ci: bool, group_by: str | None, as_json: bool, data_dir: Path | None) -> None:
    """p50, p95 and p99 per wall-time bucket across the newest runs of WORKFLOW_ID.

    Every row says how many runs it is over (n). A percentile marked ~ is rough: at that n its
    95% interval has no upper (or lower) end; p95 needs 72 runs, p99 368. The failure rate is
    over every run finished since the oldest one in the table; failed runs are never mixed into
    the percentiles of succeeded ones.
    """
    from ..stats import GroupedStats, StatsResult, grouped_stats
    from ..stats import stats as run_stats
    from . import render, stats_text
    from .insight_notes import warn_skipped

    options: dict[str, Any] = {"data_dir": data_dir, "last": last, "since": since,
                               "status": status, "buckets": buckets or None, "ci": ci}
    result: StatsResult | GroupedStats
    if group_by is None:
        result = run_stats(workflow_id, **options)
    else:
        result = grouped_stats(workflow_id, group_by, **options)
    warn_skipped(result.skipped_lines)
    if as_json:
        click.echo(render.to_json(result.to_json()))
    elif isinstance(result, GroupedStats):
        click.echo(stats_text.grouped_text(result, ci=ci))
    else:
        click.echo(stats_text.stats_text(result, ci=ci))
    if result.run_count == 0:
        _similar_workflows_hint(data_dir, workflow_id)


@runs.command()
@click.option("--runs", "n_runs", type=click.IntRange(min=1, max=1_000_000), default=3000,
              show_default=True, help="How many runs to write.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the demo history: a new or empty folder. Default: a new "
                   "folder under the system temp dir (never your real log).")
@click.option("--append", is_flag=True,
              help="Write into a --data-dir that is not empty: the demo's made-up runs are added "
                   "to whatever runs it holds.")
@handle_errors
def demo(n_runs: int, data_dir: Path | None, append: bool) -> None:
    """Write a realistic 90-day history through the real writer, then query it."""
    from ..demo import DemoDirNotEmpty, new_demo_dir, planted_compares, write_demo
    from ..stats import stats as run_stats
    from . import stats_text

    target = data_dir if data_dir is not None else new_demo_dir()
    try:
        result = write_demo(target, n_runs, append=append)
    except DemoDirNotEmpty as exc:
        raise MantisError(f"{exc} (--append adds them anyway)") from None
    if result.written == 0:
        raise MantisError(f"no demo run could be written to {target}")
    click.echo(f"Wrote {result.written} runs of {result.workflows} workflows to {target}\n")
    click.echo(stats_text.stats_text(run_stats(result.busiest, data_dir=target)))
    d = _quote(str(target))
    compares = "".join(f"  mantis runs compare {wf} --data-dir {d} --baseline {b} --current {c}\n"
                       for wf, b, c in planted_compares())
    click.echo(
        "\nNext, try:\n"
        f"  mantis runs stats {result.busiest} --data-dir {d} --since 7d\n"
        f"  mantis runs stats {result.busiest} --data-dir {d} --status '' --bucket settle --json\n"
        f"{compares}"
        f"  export MANTIS_DATA_DIR={d}"
    )


@runs.command()
@click.option("--month", "months", multiple=True, metavar="YYYY-MM",
              help="Only this closed month; repeat for more. Default: every closed month. "
                   "(Open months are still checkpointed, unless --no-checkpoint.)")
@click.option("--dry-run", is_flag=True, help="Print the plan and change nothing.")
@click.option("--grace", default="1d", show_default=True, metavar="DUR",
              help="A month closes this long after it ends (margin for clock skew).")
@click.option("--wait", type=Seconds(min=0), default=0, show_default=True,
              metavar="SECONDS",
              help="Wait this long for another running compaction; then give up (exit 0). "
                   "inf: as long as it runs.")
@click.option("--memory-limit", default="400MB", show_default=True,
              help="DuckDB memory limit while compacting (it spills to the data dir beyond).")
@click.option("--checkpoint-min-mb", type=click.IntRange(min=0), default=16, show_default=True,
              metavar="MB",
              help="Checkpoint a live shard once this many MB (10^6 bytes) of it are not in "
                   "its checkpoint; 0: whenever anything is new.")
@click.option("--no-checkpoint", is_flag=True,
              help="Leave live shards alone (no checkpoints of the open months).")
@click.option("--no-warm", is_flag=True,
              help="Do not fill trend's memo of the months compacted (docs/trend.md).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@local_data_dir_option
@handle_errors
def compact(months: tuple[str, ...], dry_run: bool, grace: str, wait: float, memory_limit: str,
            checkpoint_min_mb: int, no_checkpoint: bool, no_warm: bool, as_json: bool,
            data_dir: Path | None) -> None:
    """Convert closed months to zstd Parquet: each row exactly once, safe to run any time."""
    from ..compaction import CompactionBusy
    from ..log.timewindow import parse_duration
    from ..store.maintenance import compact as run_compact
    from . import render

    say = (lambda msg: click.echo(msg, err=True)) if sys.stderr.isatty() and not as_json else None
    try:
        report = run_compact(data_dir, warm=not no_warm, months=months or None, dry_run=dry_run,
                             grace=parse_duration(grace, "--grace"), wait=wait,
                             memory_limit=memory_limit, progress=say,
                             checkpoint_min_bytes=(None if no_checkpoint
                                                   else checkpoint_min_mb * 1_000_000))
    except CompactionBusy as exc:
        click.echo(str(exc), err=True)
        return
    click.echo(render.to_json(report.to_json()) if as_json else render.compaction_text(report))


@runs.command()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@local_data_dir_option
@handle_errors
def verify(as_json: bool, data_dir: Path | None) -> None:
    """Check every compacted part, checkpoint and quarantine file against what was recorded
    when it was written: exit 0 when all is well, 1 when damage was found."""
    from ..compaction.verify import verify as run_verify
    from . import render

    report = run_verify(data_dir)
    click.echo(render.to_json(report.to_json()) if as_json else render.verify_text(report))
    if not report.ok:
        sys.exit(1)


@runs.command(name="sql")
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "jsonl", "csv"]),
              default="table", show_default=True, help="Output format.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="FILE", help="Write the result to FILE instead of stdout (never inside "
                                   "the data dir).")
@sources_option
@handle_errors
def sql_command(query: str, fmt: str, output: Path | None, data_dir: Path | None) -> None:
    """One read-only SQL QUERY over the views runs, run_buckets, run_costs, runs_bad_lines,
    run_events and run_events_bad_lines.

    It reads only the store's files and writes none: COPY, ATTACH, SET and other statements
    that are not queries are refused (docs/sql.md).
    """
    from ..store import RunStore
    from . import values

    store = RunStore(data_dir)
    if output is not None:
        store.check_output(output)  # before the query: a refused FILE costs no work
    result = store.query(query, lossless=True)  # every DuckDB type printed exactly
    text = values.arrow_table(result.table, fmt, json_columns=result.json_columns)
    if output is None:
        click.echo(text, nl=bool(text))  # jsonl of no rows is no output at all, not a blank line
    else:
        output.write_text(text + "\n" if text else "", encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@runs.command()
@local_data_dir_option
@handle_errors
def views(data_dir: Path | None) -> None:
    """Print the SQL that defines the views, for any DuckDB client (a snapshot of the files)."""
    from .shell import views_script

    click.echo(views_script(data_dir), nl=False)


@runs.command(context_settings={"ignore_unknown_options": True})
@click.argument("duckdb_args", nargs=-1, type=click.UNPROCESSED)
@local_data_dir_option
@handle_errors
def shell(duckdb_args: tuple[str, ...], data_dir: Path | None) -> None:
    """Open the DuckDB shell with the views defined (needs the 'shell' extra).

    Extra arguments go to duckdb, e.g. mantis runs shell -- -c "FROM runs LIMIT 5".
    """
    from .shell import run_shell

    sys.exit(run_shell(data_dir, list(duckdb_args)))


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


from .compare_cmd import register as register_compare  # noqa: E402  (cli/compare_cmd.py)
from .dashboard_cmd import register as register_dashboard  # noqa: E402  (cli/dashboard_cmd.py)
from .events_cmd import register as register_events  # noqa: E402  (cli/events_cmd.py)
from .forensics_cmd import register as register_forensics  # noqa: E402  (list, show, report, watch)
from .insights_cmd import register as register_insights  # noqa: E402  (cli/insights_cmd.py)
from .lake import register  # noqa: E402  (`ship` and `lake`: cli/lake.py)
from .tail_cmd import register as register_tail  # noqa: E402  (cli/tail_cmd.py)
from .trend_cmd import register as register_trend  # noqa: E402  (cli/trend_cmd.py)

register_compare(runs)
register_dashboard(runs)
register_events(runs)
register_forensics(runs)
register_insights(runs)
register(runs)
register_tail(runs)
register_trend(runs)

if __name__ == "__main__":  # pragma: no cover
    main()
