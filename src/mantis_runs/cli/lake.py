"""``mantis runs ship`` and ``mantis runs lake init|compact``: the lake commands (docs/lake.md).

Registered on the ``runs`` group by :func:`register`. Each command parses its options, makes one
library call (``mantis_runs.lake``, which imports ``deltalake`` only when it runs) and renders the
result; failures are one line on stderr and a non-zero exit (``handle_errors``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .main import DATA_DIR_HELP, handle_errors

if TYPE_CHECKING:  # pragma: no cover
    from ..db.lake_source import Sources
    from ..errors import MantisError
    from ..lake.maintain import CompactReport
    from ..lake.ship import ShipReport
    from ..lake.storage import Target


def _store_options(f: Any) -> Any:
    f = click.option("--allow-http", is_flag=True, default=None,
                     help="Allow a plain-http endpoint (as AWS_ALLOW_HTTP=true does).")(f)
    f = click.option("--region", default=None, metavar="REGION",
                     help="The bucket's region. Default: $AWS_REGION.")(f)
    f = click.option("--endpoint", default=None, metavar="URL",
                     help="An S3-compatible endpoint (MinIO, R2, ...). Default: "
                          "$AWS_ENDPOINT_URL.")(f)
    return f


def _target(uri: str, endpoint: str | None, region: str | None,
            allow_http: bool | None) -> Target:
    from ..lake.storage import target

    return target(uri, endpoint=endpoint, region=region, allow_http=allow_http or None)


def read_sources(values: tuple[str, ...], *, endpoint: str | None = None,
                 region: str | None = None, allow_http: bool | None = None
                 ) -> Path | Sources | None:
    """The ``--data-dir`` values of a reading command as the library takes them: None (the
    default data dir), one local data dir, or ``Sources`` (a lake URI, or several values): each
    lake table opened here (``lake.read.open_sources``, one line when it cannot be)."""
    if not values:
        return None
    if len(values) == 1 and not is_uri(values[0]):
        return Path(values[0])
    from ..lake.read import open_sources

    opened = iter(open_sources([_target(v, endpoint, region, allow_http)
                                for v in values if is_uri(v)]))
    from ..db.lake_source import sources_of

    return sources_of([next(opened) if is_uri(v) else v for v in values])


def is_uri(value: str) -> bool:
    """Whether a ``--data-dir`` value names a lake table (``s3://...``, ``file:///...``)."""
    return "://" in value


@click.group()
def lake() -> None:
    """The shared run history of many hosts: a Delta table on object storage (docs/lake.md)."""


@lake.command(name="init")
@click.argument("uri")
@_store_options
@handle_errors
def init_command(uri: str, endpoint: str | None, region: str | None,
                 allow_http: bool | None) -> None:
    """Create the lake table at URI (s3://bucket/prefix) once, before any host ships."""
    from ..lake.init import init

    result = init(_target(uri, endpoint, region, allow_http))
    click.echo(f"created the lake table at {result.uri}" if result.created
               else f"the lake table at {result.uri} is already there (same layout)")


@lake.command(name="compact")
@click.argument("uri")
@click.option("--retention", default="7d", show_default=True, metavar="DUR",
              help="VACUUM deletes unreferenced files older than this (at least 1d).")
@_store_options
@handle_errors
def compact_command(uri: str, retention: str, endpoint: str | None, region: str | None,
                    allow_http: bool | None) -> None:
    """OPTIMIZE, checkpoint and VACUUM the lake table: one scheduled job per table."""
    from ..lake.maintain import compact_lake
    from ..log.timewindow import parse_duration

    report = compact_lake(_target(uri, endpoint, region, allow_http),
                          parse_duration(retention, "--retention"))
    click.echo(_compact_text(report))


@click.command(name="ship")
@click.option("--to", "uri", required=True, metavar="URI", help="The lake table (s3://...).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=DATA_DIR_HELP)
@click.option("--host-id", default=None, metavar="ID",
              help="This host's id. Default: $MANTIS_HOST_ID, else the one stored in the data "
                   "dir (made on the first ship).")
@click.option("--dry-run", is_flag=True, help="Show what would ship; change nothing.")
@click.option("--every", default=None, metavar="DUR",
              help="Ship again every DUR (e.g. 5m), forever: a sidecar loop.")
@_store_options
@handle_errors
def ship_command(uri: str, data_dir: Path | None, host_id: str | None, dry_run: bool,
                 every: str | None, endpoint: str | None, region: str | None,
                 allow_http: bool | None) -> None:
    """Ship the runs of the data dir not shipped yet into the lake table, exactly once."""
    from ..lake.loop import ship_every
    from ..lake.ship import ship
    from ..log.timewindow import parse_duration

    progress = _progress if sys.stderr.isatty() and not dry_run else None
    options: dict[str, Any] = {"target": _target(uri, endpoint, region, allow_http),
                               "data_dir": data_dir, "host_id": host_id, "dry_run": dry_run,
                               "progress": progress}
    if every is None:
        click.echo(ship_text(ship(**options)))
        return
    ship_every(parse_duration(every, "--every"), lambda r: click.echo(ship_text(r)),
               _say_error, **options)


def _progress(done: int, total: int) -> None:
    click.echo(f"\rshipped {done:,} of {total:,} runs", err=True, nl=done >= total)


def _say_error(exc: MantisError) -> None:
    click.echo(f"error: {exc}", err=True)


def ship_text(r: ShipReport) -> str:
    if r.dry_run:
        total = sum(r.months.values()) + sum(b.rows for b in r.batches)
        lines = [f"would ship {total:,} runs from {r.data_dir} to {r.uri} as host "
                 f"{r.host_id or '(a new id)'}"]
        lines += [f"  batch {b.seq}: {b.rows:,} runs prepared earlier" for b in r.batches]
        lines += [f"  {m or 'no finished_at'}: {n:,}" for m, n in r.months.items()]
        return "\n".join(lines)
    found = [b for b in r.batches if b.found]
    new = [b for b in r.batches if not b.found]
    if not new:
        text = f"nothing new to ship from {r.data_dir} (host {r.host_id})"
    else:
        seqs = f"{new[0].seq}" if len(new) == 1 else f"{new[0].seq}-{new[-1].seq}"
        text = (f"shipped {r.rows:,} runs in {len(new)} batch{'es' if len(new) > 1 else ''} "
                f"({seqs}) from {r.data_dir} to {r.uri} as host {r.host_id}")
    if found:
        text += (f"\n{len(found)} batch{'es' if len(found) > 1 else ''} of an interrupted "
                 "run had landed already: recorded, not sent again")
    return text


def _compact_text(r: CompactReport) -> str:
    return (f"compacted {r.uri}: {r.files_removed} files rewritten into {r.files_added}, "
            f"{r.vacuumed} old files vacuumed (retention {r.retention}), version {r.version}")


def register(runs: click.Group) -> None:
    """Add ``ship`` and ``lake`` to the ``runs`` group."""
    runs.add_command(ship_command)
    runs.add_command(lake)
