"""Cold-process timings of the point lookups and the newest runs, shortcut against general path.

``show``, ``report --run-id``, ``watch`` (a run's row: ``RunStore.get``), ``list --last 20`` and
``report --latest`` (``RunStore.runs``) take the shortcuts of ``store/lookup.py`` when they can
prove them safe. Each scenario here runs in fresh processes, alternating in pairs:

* ``cli``: the real command (``mantis runs show ID`` ...), shortcuts on (the default);
* ``shortcut`` / ``general``: the same library call in a small driver, with
  ``RunStore.shortcuts`` True / False, so the ratio is the shortcut's alone;
* on a raw (never compacted) store, ``month``: the general path over the run's month alone, what
  "parsing its month" costs (the goal: a lookup of the oldest run within 2x of it);
* with ``--against SRC`` (a ``src`` folder of another revision: ``git worktree add /tmp/old HEAD``
  then ``--against /tmp/old/src``), ``before``: the real command of that revision, alternated
  with ``cli``, so the ratio holds on a busy machine; CPU time (user + sys) is shown beside the
  wall time.

Every answer of the shortcut is checked against the general path's (the same JSON). Before
timing, every file is read once (a warm page cache) and each command runs once (the user cache
of footer bounds, run_id ranges, shard facts and the newest runs' bounds is warm, as after any
earlier command); the first call with an empty user cache is timed once apart (``first call``).

Usage::

    python benchmarks/bench_lookups.py --data-dir /work/bench-data/c10m2 [--repeat 5]
    python benchmarks/bench_lookups.py --data-dir /work/bench-data/1m --raw [--repeat 3]
    python benchmarks/bench_lookups.py --data-dir /work/bench-data/c10m2 --against /tmp/old/src \
        --modes cli,before [--only show]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_stats import read_through  # noqa: E402

#: The driver: one library call, its answer as JSON on stdout.
DRIVER = r"""
import json, sys
from mantis_runs import RunStore
from mantis_runs.store import row_to_json
data_dir, what, arg, mode, month = sys.argv[1:6]
s = RunStore(data_dir)
s.shortcuts = mode == "shortcut"
if mode == "month":  # the general path over one month: the views over that month's files
    from mantis_runs.db.sqlfiles import load
    with s._reading([month]) as (con, _):
        t = con.sql(load("runs_by_id"), params={"run_id": arg}).to_arrow_table()
        out = [str(v) for v in t.column("run_id").to_pylist()]
elif what == "get":
    out = row_to_json(s.get(arg))
elif what == "runs":
    out = [row_to_json(r) for r in s.runs(last=int(arg))]
else:
    out = s.report(arg or None).to_json()
print(json.dumps(out, default=str, sort_keys=True))
"""


@dataclass(frozen=True)
class Run:
    """One cold process: wall seconds, CPU seconds (user + sys), peak RSS, its stdout."""

    seconds: float
    cpu: float
    rss_mb: float
    stdout: bytes


#: ``before``'s source folder (``--against``), put first on PYTHONPATH.
AGAINST: list[str] = []


def run_cold(cmd: list[str], pythonpath: str | None = None) -> Run:
    """``cmd`` in a fresh process (with ``pythonpath`` first on PYTHONPATH): its wall time,
    CPU time and peak RSS (os.wait4), and its stdout."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, *filter(None, [env.get("PYTHONPATH")])])
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, env=env)
        _, _, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = 0  # reaped by wait4
        out.seek(0)
        return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out.read())


@dataclass
class Scenario:
    name: str
    what: str  # get, runs, report
    arg: str
    cli: list[str]
    month: str = ""  # the month whose shard holds the run (for ``month``)
    times: dict[str, list[Run]] = field(default_factory=dict)
    first: dict[str, Run] = field(default_factory=dict)


def mantis() -> str:
    return str(Path(sys.executable).with_name("mantis"))


def driver(data_dir: Path, sc: Scenario, mode: str) -> list[str]:
    return [sys.executable, "-c", DRIVER, str(data_dir), sc.what, sc.arg, mode, sc.month]


def ends(data_dir: Path) -> tuple[str, str]:
    """(the newest run_id, the oldest run_id) of the store, by finished_at: the newest of the
    newest shard, the oldest of the oldest part (or shard)."""
    import duckdb

    parts = sorted(str(p) for p in (data_dir / "compacted").glob("*/part-*.parquet"))
    shards = sorted(str(p) for p in (data_dir / "runs_log").glob("*.jsonl"))
    con = duckdb.connect()
    rows = []
    if parts:
        rows += con.sql("SELECT run_id, finished_at FROM read_parquet($p) ORDER BY finished_at "
                        "LIMIT 1", params={"p": parts[:1]}).fetchall()
    rows += con.sql("SELECT run_id, CAST(finished_at AS TIMESTAMPTZ) FROM read_ndjson($s, "
                    "columns = {run_id: 'VARCHAR', finished_at: 'VARCHAR'}) ORDER BY 2 DESC "
                    "LIMIT 1", params={"s": shards[-1:]}).fetchall()
    if not parts:
        rows += con.sql("SELECT run_id, CAST(finished_at AS TIMESTAMPTZ) FROM read_ndjson($s, "
                        "columns = {run_id: 'VARCHAR', finished_at: 'VARCHAR'}) ORDER BY 2 "
                        "LIMIT 1", params={"s": shards[:1]}).fetchall()
        return rows[0][0], rows[1][0]
    return rows[1][0], rows[0][0]


def middle(data_dir: Path) -> str | None:
    """The oldest run of the middle compacted month (a report whose baseline has a history
    before it and after it), or None without parts."""
    import duckdb

    months = sorted(p for p in (data_dir / "compacted").iterdir() if p.is_dir()) if (
        data_dir / "compacted").is_dir() else []
    parts = [str(p) for p in months[len(months) // 2].glob("part-*.parquet")] if months else []
    if not parts:
        return None
    rows = duckdb.connect().sql("SELECT run_id FROM read_parquet($p) ORDER BY finished_at "
                                "LIMIT 1", params={"p": parts}).fetchall()
    return str(rows[0][0]) if rows else None


def scenarios(data_dir: Path, newest: str, oldest: str, raw: bool) -> list[Scenario]:
    if raw:
        shards = sorted(p.name[:7] for p in (data_dir / "runs_log").glob("*.jsonl"))
        return [Scenario("watch oldest", "get", oldest, ["runs", "watch", oldest], shards[0]),
                Scenario("watch newest", "get", newest, ["runs", "watch", newest], shards[-1])]
    mid = middle(data_dir)
    return [
        Scenario("watch newest", "get", newest, ["runs", "watch", newest]),
        Scenario("watch oldest", "get", oldest, ["runs", "watch", oldest]),
        Scenario("show newest", "report", newest, ["runs", "show", newest]),
        Scenario("report --run-id oldest", "report", oldest,
                 ["runs", "report", "--run-id", oldest]),
        *([Scenario("report --run-id middle", "report", mid, ["runs", "report", "--run-id", mid])]
          if mid else []),
        Scenario("list --last 20", "runs", "20", ["runs", "list", "--last", "20"]),
        Scenario("report --latest", "report", "", ["runs", "report", "--latest"]),
    ]


def measure(data_dir: Path, sc: Scenario, modes: list[str], repeat: int) -> None:
    env_cache = os.environ.get("XDG_CACHE_HOME")
    for mode in modes:
        with tempfile.TemporaryDirectory() as empty:
            os.environ["XDG_CACHE_HOME"] = empty  # the first call, with an empty user cache
            sc.first[mode] = cold(data_dir, sc, mode)
    if env_cache is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = env_cache
    answers = {}
    for mode in modes:  # once untimed: the user cache as after any earlier command
        r = cold(data_dir, sc, mode)
        answers[mode] = r.stdout
    if "general" in answers and answers["shortcut"] != answers["general"]:
        raise SystemExit(f"{sc.name}: the shortcut's answer differs from the general path's")
    if "before" in answers and answers["cli"] != answers["before"]:
        raise SystemExit(f"{sc.name}: the answer differs from the other revision's")
    for _ in range(repeat):
        for mode in modes:  # alternated
            sc.times.setdefault(mode, []).append(cold(data_dir, sc, mode))


def command(data_dir: Path, sc: Scenario, mode: str) -> list[str]:
    if mode in ("cli", "before"):
        return [mantis(), *sc.cli, "--data-dir", str(data_dir)]
    return driver(data_dir, sc, mode)


def cold(data_dir: Path, sc: Scenario, mode: str) -> Run:
    return run_cold(command(data_dir, sc, mode), AGAINST[0] if mode == "before" else None)


def report(data_dir: Path, found: list[Scenario], modes: list[str]) -> str:
    head = ["scenario", *[f"{m} s" for m in modes], *[f"{m} CPU s" for m in modes],
            "general/shortcut" if "general" in modes else "cli/before",
            *[f"{m} MB" for m in modes], "first call s (" + ", ".join(modes) + ")"]
    lines = [f"{data_dir}", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for sc in found:
        med = {m: statistics.median(r.seconds for r in sc.times[m]) for m in modes}
        cpu = {m: statistics.median(r.cpu for r in sc.times[m]) for m in modes}
        rss = {m: max(r.rss_mb for r in sc.times[m]) for m in modes}
        ratio = (med["general"] / med["shortcut"] if "general" in med
                 else med["cli"] / med["before"] if "before" in med else float("nan"))
        first = ", ".join(f"{sc.first[m].seconds:.2f}" for m in modes)
        lines.append("| " + " | ".join([sc.name, *[f"{med[m]:.2f}" for m in modes],
                                        *[f"{cpu[m]:.2f}" for m in modes], f"{ratio:.2f}x",
                                        *[f"{rss[m]:.0f}" for m in modes], first]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--raw", action="store_true", help="a never-compacted store: also time "
                    "the general path over the run's month alone")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--only", default="", help="run the scenarios whose name has this text")
    ap.add_argument("--json", type=Path, help="also write the medians here")
    ap.add_argument("--against", metavar="SRC", help="another revision's src folder: also "
                    "time its commands (mode 'before')")
    ap.add_argument("--modes", default="", help="the modes to time, comma-separated (default: "
                    "cli, shortcut, general, and month with --raw, before with --against)")
    args = ap.parse_args(argv)
    AGAINST[:] = [args.against] if args.against else []
    read_through(p for p in args.data_dir.rglob("*") if p.is_file())
    newest, oldest = ends(args.data_dir)
    print(f"newest {newest}, oldest {oldest}", flush=True)
    modes = (args.modes.split(",") if args.modes else
             ["cli", "shortcut", "general", *(["month"] if args.raw else []),
              *(["before"] if args.against else [])])
    found = [sc for sc in scenarios(args.data_dir, newest, oldest, args.raw)
             if args.only in sc.name]
    for sc in found:
        measure(args.data_dir, sc, modes, args.repeat)
        print(report(args.data_dir, [sc], modes).splitlines()[-1], flush=True)
    text = report(args.data_dir, found, modes)
    print(text)
    if args.json:
        args.json.write_text(json.dumps({sc.name: {m: [r.seconds for r in sc.times[m]]
                                                   for m in modes} for sc in found}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
