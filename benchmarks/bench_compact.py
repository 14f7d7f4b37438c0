"""Cold-process timing, peak RSS and size ratio of ``mantis runs compact``.

The source history is never touched: it is copied to a work directory first (or generated there
with ``gen_logs.py``), the copy is ``sync``ed, and then ``mantis runs compact --json`` runs in a
fresh process started by a small launcher (the same approach as ``bench_stats.py``: the launcher
forks and execs the tool and reads its wall time, CPU time and peak RSS from ``wait4``).

While it runs, this script polls every ``--poll`` seconds:

* the tool's RSS (``/proc/<pid>/status`` through psutil), to attribute a sampled peak to each month;
* ``compacted/<month>/part-*.parquet``: months are converted one after the other, so a month's
  time is from the previous month's publish (or from the start, for the first, which therefore
  includes start-up and sealing every closed month) to its own publish;
* the size of ``.tmp/`` (DuckDB's spill and the unpublished part).

``--per-month`` also compacts a fresh copy one month per process (``--month M``): an exact
``ru_maxrss`` per month, at the price of a second pass.

Usage::

    python benchmarks/bench_compact.py --source /work/bench-data/1m --work /work/bench-data/c1m
    python benchmarks/bench_compact.py --generate "--rows 10000000 --months 1 --end 2026-10-31" \\
        --work /work/bench-data/c10m-month --memory-limit 512MB --memory-limit 256MB
    python benchmarks/bench_compact.py --phases /work/bench-data/1m/runs_log/2026-10.jsonl

``--keep`` leaves the compacted copy in place (``bench_compacted.py`` reads it); otherwise the
work directory is removed at the end. ``--phases SHARD`` times the steps of converting one shard
in this process (line count, typed rows, dedupe, Arrow cast, Parquet write) to show where the time
goes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_stats import DOCS, LAUNCHER, environment, write_block  # noqa: E402


@dataclass
class MonthFigures:
    month: str
    rows: int
    jsonl_bytes: int
    parquet_bytes: int
    seconds: float | None  # from the previous publish (or the start) to this month's publish
    rss_mb: float | None  # sampled peak during that time, or ru_maxrss with --per-month
    spill_mb: float | None = None  # largest .tmp/ seen during that time


@dataclass
class CompactRun:
    label: str
    memory_limit: str
    seconds: float
    rss_mb: float
    user_s: float
    sys_s: float
    returncode: int
    stderr: str
    load_before: float
    load_after: float
    rows: int = 0
    jsonl_bytes: int = 0
    parquet_bytes: int = 0
    spill_mb: float = 0.0
    months: list[MonthFigures] = field(default_factory=list)
    per_month: list[MonthFigures] = field(default_factory=list)  # --per-month, exact RSS

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.jsonl_bytes / self.parquet_bytes if self.parquet_bytes else 0.0


def code_version() -> str:
    """The commit of the code under test, with "+changes" when src/ (SQL included) differs."""
    repo = HERE.parent
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty.strip() else "")


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _parts(base: Path) -> dict[str, Path]:
    """month -> its newest published part."""
    out: dict[str, Path] = {}
    for p in sorted((base / "compacted").glob("*/part-*.parquet")):
        out[p.parent.name] = p
    return out


def run_watched(cmd: list[str], base: Path, poll: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run ``cmd`` through the launcher; return (launcher report, per-month observations)."""
    import psutil

    events: dict[str, dict[str, float]] = {}  # month -> {"t": publish time, "rss", "spill"}
    seen = set(_parts(base))
    peak_rss = peak_spill = 0.0
    tool: psutil.Process | None = None
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".txt") as report:
        t0 = time.perf_counter()
        launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, report.name, *cmd],
                                    stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        while True:
            done = launcher.poll() is not None
            if tool is None:
                try:
                    kids = psutil.Process(launcher.pid).children()
                    tool = kids[0] if kids else None
                except psutil.Error:
                    pass
            if tool is not None:
                with contextlib.suppress(psutil.Error):
                    peak_rss = max(peak_rss, tool.memory_info().rss / 2**20)
            spill = base / ".tmp"
            if spill.exists():
                peak_spill = max(peak_spill, _dir_bytes(spill) / 2**20)
            now = time.perf_counter() - t0
            for month in sorted(set(_parts(base)) - seen):
                events[month] = {"t": now, "rss": peak_rss, "spill": peak_spill}
                seen.add(month)
                peak_rss = peak_spill = 0.0
            if done:
                break
            time.sleep(poll)
        text = report.read().split()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if len(text) != 5:
        return ({"seconds": 0.0, "rss_mb": 0.0, "returncode": launcher.returncode or 1,
                 "user_s": 0.0, "sys_s": 0.0, "stdout": stdout, "stderr": stderr}, events)
    return ({"seconds": float(text[0]), "rss_mb": float(text[1]), "returncode": int(text[2]),
             "user_s": float(text[3]), "sys_s": float(text[4]), "stdout": stdout,
             "stderr": stderr}, events)


def copy_history(source: Path, work: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    # runs_log only: a source with compacted/ or quarantine/ would not be a raw history
    shutil.copytree(source / "runs_log", work / "runs_log")
    subprocess.run(["sync"], check=False)  # the copy's writeback must not land in the timing


def compact_once(args: argparse.Namespace, work: Path, memory_limit: str,
                 months: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    # closed months only: the checkpoint of the live month is measured on its own (docs)
    cmd = [args.mantis, "runs", "compact", "--json", "--data-dir", str(work),
           "--memory-limit", memory_limit, "--no-checkpoint"]
    for m in months or ():
        cmd += ["--month", m]
    return run_watched(cmd, work, args.poll)


def _failed(rep: dict[str, Any]) -> str | None:
    if rep["returncode"] == 0:
        return None
    lines = rep["stderr"].decode("utf-8", "replace").strip().splitlines()
    return f"exit {rep['returncode']}: {lines[-1] if lines else '(no output)'}"


def bench(args: argparse.Namespace, source: Path, memory_limit: str) -> CompactRun:
    work = args.work
    print(f"copying {source} to {work}", file=sys.stderr)
    copy_history(source, work)
    live = {p.name: p.stat().st_size for p in (work / "runs_log").glob("*.jsonl")}
    load_before = os.getloadavg()[0]
    print(f"compacting (memory limit {memory_limit}, load {load_before:.2f})", file=sys.stderr)
    rep, events = compact_once(args, work, memory_limit)
    run = CompactRun(args.label, memory_limit, rep["seconds"], rep["rss_mb"], rep["user_s"],
                     rep["sys_s"], rep["returncode"],
                     _failed(rep) or "", load_before, os.getloadavg()[0])
    if rep["returncode"] != 0:
        print(f"compaction failed: {run.stderr}", file=sys.stderr)
        return run
    report = json.loads(rep["stdout"])
    prev_t = 0.0
    for m in report["months"]:
        ev = events.get(m["month"])
        secs = None if ev is None else ev["t"] - prev_t
        prev_t = ev["t"] if ev else prev_t
        run.months.append(MonthFigures(m["month"], m["rows_written"], m["bytes_before"],
                                       m["bytes_after"], secs, ev and ev["rss"],
                                       ev and ev["spill"]))
    run.rows = sum(m.rows for m in run.months)
    run.jsonl_bytes = sum(m.jsonl_bytes for m in run.months)
    run.parquet_bytes = sum(m.parquet_bytes for m in run.months)
    run.spill_mb = max((m.spill_mb or 0.0 for m in run.months), default=0.0)
    left = sorted(set(live) & {p.name for p in (work / "runs_log").glob("*.jsonl")})
    print(f"  {run.seconds:.1f} s, {run.rss_mb:.0f} MB peak RSS, {run.rows:,} rows "
          f"({run.rows_per_s:,.0f}/s), {run.jsonl_bytes / 1e6:,.1f} MB JSONL -> "
          f"{run.parquet_bytes / 1e6:,.1f} MB Parquet ({run.ratio:.1f}x); live shards left: "
          f"{', '.join(left) or 'none'}", file=sys.stderr)

    if args.per_month:
        print("per-month pass on a fresh copy", file=sys.stderr)
        copy_history(source, work)
        for m in run.months:
            rep_m, _ = compact_once(args, work, memory_limit, [m.month])
            if rep_m["returncode"] != 0:
                print(f"  {m.month}: {_failed(rep_m)}", file=sys.stderr)
                continue
            mr = json.loads(rep_m["stdout"])["months"][0]
            run.per_month.append(MonthFigures(m.month, mr["rows_written"], mr["bytes_before"],
                                              mr["bytes_after"], rep_m["seconds"],
                                              rep_m["rss_mb"]))
            print(f"  {m.month}: {rep_m['seconds']:.2f} s, {rep_m['rss_mb']:.0f} MB",
                  file=sys.stderr)
    return run


# --- where the time goes -----------------------------------------------------------------------


def phases(shard: Path, memory_limit: str) -> list[tuple[str, float, float]]:
    """Time the steps of converting one JSONL shard, in this process, as compaction does them.

    Returns (step, seconds, process peak RSS MB so far: ``ru_maxrss`` only grows, so a step's own
    peak shows only when it is above every earlier one). Reads ``shard``; writes only to a
    temporary directory ($TMPDIR). Uses mantis_runs's own SQL and schema; the steps follow
    ``compaction/absorb.py`` through ``compaction.convert.Conversion`` (the ``compact_ids`` pass,
    then ``compact_rows`` into the Parquet writer) and add variants that show what each part costs.
    """
    import resource

    import pyarrow as pa
    import pyarrow.parquet as pq

    from mantis_runs.compaction import STORED_ROW_MACROS, stored_row_params
    from mantis_runs.db import arrow_schema
    from mantis_runs.db.connection import connect
    from mantis_runs.db.parquet_layout import write_rows
    from mantis_runs.db.sqlfiles import load as load_file

    def load(name: str) -> str:  # to be nested in a SELECT: no trailing semicolon
        return load_file(name).strip().rstrip(";")

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    out: list[tuple[str, float, float]] = [("imports + connect", 0.0, peak())]
    target = arrow_schema.parquet_schema()
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as tmp:
        empty = Path(tmp) / "empty.parquet"
        pq.write_table(target.empty_table(), empty)
        params: dict[str, Any] = {"files": [str(shard)], "previous": [str(empty)],
                                  **stored_row_params()}
        con = connect(memory_limit=memory_limit, temp_directory=Path(tmp) / "duckdb")
        for macro in STORED_ROW_MACROS:
            con.execute(load(macro))
        out[0] = ("imports + connect", 0.0, peak())
        print(f"  {out[0][0]:<62} {'':>9}  {out[0][2]:6.0f} MB", file=sys.stderr)

        def step(name: str, fn: Any) -> Any:
            t0 = time.perf_counter()
            result = fn()
            out.append((name, time.perf_counter() - t0, peak()))
            print(f"  {name:<62} {out[-1][1]:7.2f} s  {out[-1][2]:6.0f} MB", file=sys.stderr)
            return result

        def sub(names: tuple[str, ...]) -> dict[str, Any]:
            return {k: params[k] for k in names}

        def consume(sql: str, names: tuple[str, ...]) -> Any:  # every column, nothing kept
            return con.execute(f"SELECT count(*), max(hash(COLUMNS(*))) FROM ({sql})",
                               sub(names)).fetchall()

        rows_args = ("files", "structure", "known", "known_struct", "known_names")
        rows_sql = ("SELECT * FROM mantis_stored_rows($files, $structure, $known, $known_struct, "
                    "$known_names)")
        step("read_ndjson_objects: count(*) (split lines, parse)",
             lambda: con.execute("SELECT count(*) FROM read_ndjson_objects($files, "
                                 "ignore_errors = true)", sub(("files",))).fetchall())
        step("compact_ids: run_id pass (line count, bad lines, repeats)",
             lambda: con.execute(load("compact_ids"), sub(("files", "previous"))))
        step("mantis_stored_rows: all columns typed (no output)",
             lambda: consume(rows_sql, rows_args))
        step("compact_rows: all columns (no output)",
             lambda: consume(load("compact_rows"), ("files", "previous", *rows_args[1:])))
        window = (f"SELECT * FROM ({rows_sql}) QUALIFY row_number() OVER (PARTITION BY run_id "
                  "ORDER BY finished_at DESC NULLS LAST, total_time_s DESC NULLS LAST) = 1")
        step("before 36be35d: window over every row (no output)",
             lambda: consume(window, rows_args))

        def drain(sql: str, cast: bool) -> int:
            n = 0
            for batch in con.sql(sql, params=params).to_arrow_reader(64 * 1024):
                if cast:
                    n += pa.Table.from_batches([batch]).select(target.names).cast(target).num_rows
                else:
                    n += batch.num_rows
            return n

        step("compact_rows -> Arrow batches", lambda: drain(load("compact_rows"), False))
        step("compact_rows -> Arrow batches + cast to the schema",
             lambda: drain(load("compact_rows"), True))

        def write(sql: str) -> int:
            n = 0
            with pq.ParquetWriter(Path(tmp) / "part.parquet", target,
                                  compression="zstd") as writer:
                for batch in con.sql(sql, params=params).to_arrow_reader(64 * 1024):
                    table = pa.Table.from_batches([batch]).select(target.names).cast(target)
                    writer.write_table(table, row_group_size=128 * 1024)
                    n += table.num_rows
            return n

        step("compact_rows -> cast -> pyarrow zstd Parquet, not clustered",
             lambda: write(load("compact_rows")))
        step("compact_rows -> row groups per workflow -> zstd Parquet (what compact does)",
             lambda: write_rows(con, load("compact_rows"), params, Path(tmp) / "part2.parquet"))
        copy_to = Path(tmp) / "copy.parquet"
        step("compact_rows -> DuckDB COPY TO zstd Parquet (no pyarrow)",
             lambda: con.execute(f"COPY ({load('compact_rows')}) TO '{copy_to}' "
                                 "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 131072)",
                                 params).fetchall())
        con.close()
    return out


# --- output ------------------------------------------------------------------------------------


def _opt(x: float | None, fmt: str) -> str:
    return "" if x is None else format(x, fmt)


def markdown(runs: list[CompactRun], env: dict[str, Any], data: str) -> str:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"Measured {when} UTC on {env['cpu']} ({env['cpus']} CPUs), {env['platform']}; Python "
        f"{env['python']}, duckdb {env['duckdb']}, pyarrow {env.get('pyarrow', '?')}; mantis-runs "
        f"at commit {env.get('commit', '?')}. Data: {data}.",
        "",
        "| run | memory limit | rows | wall s | rows/s | CPU s (user+sys) | peak RSS MB "
        "| max spill MB | JSONL MB | Parquet MB | ratio | load 1 min before/after |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        if r.returncode:
            lines.append(f"| {r.label} | {r.memory_limit} | failed: {r.stderr[:200]} |"
                         " | | | | | | | | |")
            continue
        lines.append(
            f"| {r.label} | {r.memory_limit} | {r.rows:,} | {r.seconds:.1f} | "
            f"{r.rows_per_s:,.0f} | {r.user_s:.0f}+{r.sys_s:.0f} | {r.rss_mb:.0f} | "
            f"{r.spill_mb:,.0f} | {r.jsonl_bytes / 1e6:,.1f} | {r.parquet_bytes / 1e6:,.1f} | "
            f"{r.ratio:.1f}× | {r.load_before:.2f} / {r.load_after:.2f} |")
    for r in runs:
        if len(r.months) < 2 or r.returncode:
            continue
        exact = {m.month: m for m in r.per_month}
        head = ("| month | rows | s | rows/s | sampled peak RSS MB | max spill MB | JSONL MB "
                "| Parquet MB | ratio |")
        sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
        if exact:
            head += " own process: s | own process: peak RSS MB |"
            sep += "---:|---:|"
        lines += ["", f"Per month, {r.label} ({r.memory_limit}):", "", head, sep]
        for m in r.months:
            rate = f"{m.rows / m.seconds:,.0f}" if m.seconds else ""
            row = (f"| {m.month} | {m.rows:,} | {_opt(m.seconds, '.1f')} | {rate} | "
                   f"{_opt(m.rss_mb, '.0f')} | {_opt(m.spill_mb, ',.0f')} | "
                   f"{m.jsonl_bytes / 1e6:,.1f} | {m.parquet_bytes / 1e6:,.1f} | "
                   f"{m.jsonl_bytes / max(1, m.parquet_bytes):.1f}× |")
            if exact:
                e = exact.get(m.month)
                row += (f" {_opt(e and e.seconds, '.1f')} | {_opt(e and e.rss_mb, '.0f')} |"
                        if e else " | |")
            lines.append(row)
    return "\n".join(lines) + "\n"


def write_docs(label: str, block: str) -> None:
    write_block(f"<!-- bench_compact:{label}:begin (generated by benchmarks/bench_compact.py) -->",
                f"<!-- bench_compact:{label}:end -->", block)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--source", type=Path, help="a raw history (runs_log/); copied, not changed")
    src.add_argument("--generate", metavar="ARGS",
                     help="gen_logs.py arguments (without --out): generate the history into "
                          "<work>.source first (kept for later runs unless --drop-source)")
    src.add_argument("--phases", type=Path, metavar="SHARD",
                     help="time the conversion steps of one JSONL shard in this process")
    ap.add_argument("--work", type=Path, help="scratch data dir for the copy (replaced)")
    ap.add_argument("--memory-limit", action="append", default=None,
                    help="--memory-limit for compact (repeat to compare; default 512MB)")
    ap.add_argument("--label", default=None, help="name of the run in the tables")
    ap.add_argument("--per-month", action="store_true",
                    help="also compact a fresh copy one month per process (exact RSS per month)")
    ap.add_argument("--poll", type=float, default=0.1, help="seconds between RSS/file samples")
    ap.add_argument("--keep", action="store_true", help="keep the compacted work dir")
    ap.add_argument("--drop-source", action="store_true", help="remove a --generate'd source")
    ap.add_argument("--mantis", default=str(Path(sys.executable).parent / "mantis"))
    ap.add_argument("--json", type=Path, default=None, help="also write raw results here")
    ap.add_argument("--write-docs", action="store_true",
                    help=f"put the tables in {DOCS.name} between bench_compact:<label> markers")
    args = ap.parse_args(argv)
    limits = args.memory_limit or ["512MB"]

    if args.phases:
        for limit in limits:
            print(f"{args.phases} ({args.phases.stat().st_size / 1e6:,.1f} MB), memory limit "
                  f"{limit}:", file=sys.stderr)
            res = phases(args.phases, limit)
            if args.json:
                args.json.write_text(json.dumps({"shard": str(args.phases), "memory_limit": limit,
                                                 "steps": res}, indent=1))
        return 0

    if not args.work:
        ap.error("--work is required")
    if args.generate:
        source = args.work.with_name(args.work.name + ".source")
        if not (source / "runs_log").is_dir():
            cmd = [sys.executable, str(HERE / "gen_logs.py"), "--out", str(source),
                   *shlex.split(args.generate)]
            print("generating: " + " ".join(cmd), file=sys.stderr)
            subprocess.run(cmd, check=True)
    elif args.source:
        source = args.source
    else:
        ap.error("one of --source, --generate or --phases is required")
    if source.resolve() == args.work.resolve():
        ap.error("--work must not be the source")
    shards = sorted((source / "runs_log").glob("*.jsonl"))
    if not shards:
        ap.error(f"no shards under {source}/runs_log")
    args.label = args.label or source.name

    commit = code_version()  # before the runs: the code may change while they run
    runs = []
    for i, limit in enumerate(limits):
        runs.append(bench(args, source, limit))
        if not args.keep or i < len(limits) - 1:
            shutil.rmtree(args.work, ignore_errors=True)
    env = environment(source)
    env["commit"] = commit
    import pyarrow

    env["pyarrow"] = pyarrow.__version__
    size = sum(p.stat().st_size for p in shards)
    plural = "s" if len(shards) != 1 else ""
    data = (f"`{source}`, {len(shards)} monthly JSONL shard{plural}, {size / 1e6:,.1f} MB "
            f"({shards[0].stem} to {shards[-1].stem})")
    if args.generate and args.drop_source:
        shutil.rmtree(source, ignore_errors=True)
    block = markdown(runs, env, data)
    print(block)
    if args.write_docs:
        write_docs(args.label, block)
        print(f"updated {DOCS}", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps({"environment": env, "data": data, "runs": [
            {**{k: v for k, v in r.__dict__.items() if k not in ("months", "per_month")},
             "months": [m.__dict__ for m in r.months],
             "per_month": [m.__dict__ for m in r.per_month]} for r in runs]}, indent=1))
    return 1 if any(r.returncode for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
