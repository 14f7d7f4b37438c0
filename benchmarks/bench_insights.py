"""Cold-process timings of the insight commands (docs/insights.md) against a pandas peer.

One function per command (``COMMANDS``); ``--only NAME`` runs one. Each run is a fresh
process (interpreter start, imports, the read, the answer), mantis and its peer alternated pair
by pair (this machine's timings drift; compare the pairs); wall time, CPU time (user + sys) and
peak RSS per process (``os.wait4``), medians printed, and the answers compared. The page cache
is warmed by one unmeasured run of each first::

    python benchmarks/bench_insights.py --data-dir /work/bench-data/c10m2 --repeat 7 \\
        --only failures

``failures``: ``mantis runs failures WF --since 365d --json`` against a pandas script over the
same Parquet files (compacted parts and the live month's checkpoint; ``--peer failures`` runs
it alone): one copy per run_id (the latest finished_at), the failed runs' first error lines
normalised by a chain of ``str.replace`` regexes (numbers, hex ids, quoted strings, paths),
counted per class and ISO week. The peer leaves out the live shard's unflushed tail (it has no
JSONL reader), so its counts may differ from mantis's by the runs of the last minutes.

``tail``: ``mantis runs tail WF --since <30 days ago> --json`` against ``peer_tail`` (the same
files and dedupe; the p95 tail, the p40-p60 band, the bucket shares, and scipy's Fisher test with
BH over the supported attribute values); the bucket shares and findings of both are printed.

``--before SRC`` times this tree's mantis against another source tree's instead of the peer
(``git worktree add /tmp/old HEAD``; ``--before /tmp/old/src``, ``--detect`` for the trend's
change points) and says whether both printed the same answer. The first, unmeasured run fills
the user cache, trend's memo of closed months included (docs/trend.md); ``--empty-memo`` adds
this tree again with that memo removed before each run (the first call after a compaction).

``trend``: ``mantis runs trend WF --since <365 days ago> --every 1d --json`` against
``peer_trend`` (the same files and dedupe; count, p50 and p95 per UTC day and metric, pandas'
linear quantiles); the (metric, day) cells before the live month are compared exactly.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BUSIEST = "default__marketplace-listings-v1"


def run_once(cmd: list[str], src: Path, *, empty_memo: bool = False,
             ) -> tuple[float, float, float, int, bytes]:
    """(wall s, cpu s, peak RSS MiB, exit status, stdout) of one cold process; with
    ``empty_memo``, trend's memo of closed months (the user cache's ``trend-memo/``) is
    removed first, the other cache entries kept."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    if empty_memo:
        xdg = os.environ.get("XDG_CACHE_HOME")
        shutil.rmtree((Path(xdg) if xdg else Path.home() / ".cache") / "mantis" / "trend-memo",
                      ignore_errors=True)
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        return (wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
                proc.returncode, out.read())


def alternate(variants: dict[str, list[str]], src: Path, repeat: int,
              ) -> dict[str, list[tuple[float, float, float, int, bytes]]]:
    """Each variant's runs, alternated pair by pair after one unmeasured warm-up run each."""
    for cmd in variants.values():
        run_once(cmd, src)
    results: dict[str, list[tuple[float, float, float, int, bytes]]] = {k: [] for k in variants}
    for _ in range(repeat):
        for name, cmd in variants.items():
            results[name].append(run_once(cmd, src))
    for name, runs in results.items():
        walls = [r[0] for r in runs]
        print(f"{name:>8}: wall median {statistics.median(walls):.3f} s "
              f"(min {min(walls):.3f}, max {max(walls):.3f}), cpu median "
              f"{statistics.median(r[1] for r in runs):.3f} s, peak RSS median "
              f"{statistics.median(r[2] for r in runs):.0f} MiB, exit {runs[-1][3]}")
    return results


def mantis_and_peer(args: argparse.Namespace, command: str, days: int,
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Time ``mantis runs COMMAND WF --since <days ago> --json`` against ``--peer COMMAND``
    (alternated, ``alternate``) and return their last answers (JSON)."""
    since = (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0)
    at = since.strftime("%Y-%m-%dT%H:%M:%S")
    variants = {
        "mantis": [sys.executable, "-m", "mantis_runs", "runs", command, args.workflow,
                   "--data-dir", str(args.data_dir), "--since", at, "--json"],
        "pandas": [sys.executable, __file__, "--peer", command, "--data-dir",
                   str(args.data_dir), "--workflow", args.workflow, "--since", at],
    }
    print("command: " + " ".join(variants["mantis"][1:]))
    results = alternate(variants, args.src, args.repeat)
    ours, theirs = (json.loads(results[k][-1][4]) for k in ("mantis", "pandas"))
    return ours, theirs


# -- failures -----------------------------------------------------------------------------------


def peer_failures(data_dir: str, workflow: str, since: datetime) -> dict[str, Any]:
    """The pandas peer of `mantis runs failures --json` (module doc)."""
    import pandas as pd

    files = sorted(glob.glob(os.path.join(data_dir, "compacted", "*", "part-*.parquet")))
    files += sorted(glob.glob(os.path.join(data_dir, "checkpoints", "*.parquet")))
    frames = [pd.read_parquet(f, columns=["run_id", "status", "finished_at", "error"],
                              filters=[("workflow_id", "==", workflow),
                                       ("finished_at", ">=", pd.Timestamp(since))])
              for f in files]
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values("finished_at").drop_duplicates("run_id", keep="last")
    terminal = int(df["status"].isin(["succeeded", "failed"]).sum())
    failed = df[df["status"] == "failed"]
    text = failed["error"].fillna("").str.lstrip("\n")
    line = text.str.split("\n", n=1).str[0]
    traceback = line.str.strip() == "Traceback (most recent call last):"
    exception = text.str.extract(r"\n(\S[^\n]*)", expand=False)
    line = line.where(~traceback, exception.fillna(line)).str.strip()
    for pattern, placeholder in ((r"\b[a-z][a-z0-9+.-]*://\S+", "<url>"),
                                 (r"'[^']*'|\"[^\"]*\"|“[^”]*”", "<str>"),
                                 (r"(?<![\w/])/[\w.@%+~/-]+", "<path>"),
                                 (r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{8,}\b", "<hex>"),
                                 (r"(?<![\w.])[-+]?\d+(?:\.\d+)?", "<n>")):
        line = line.str.replace(pattern, placeholder, regex=True)
    week = failed["finished_at"].dt.tz_convert("UTC").dt.to_period("W-SUN").dt.start_time
    counts = pd.DataFrame({"class": line, "week": week}).groupby("class").agg(
        count=("week", "size"), weeks=("week", "nunique"))
    counts = counts.sort_values("count", ascending=False)
    return {"failed": len(failed), "terminal": terminal,
            "classes": [{"class": k, "count": int(v)} for k, v in counts["count"].items()]}


def bench_failures(args: argparse.Namespace) -> None:
    ours, theirs = mantis_and_peer(args, "failures", 365)
    print(f"mantis: {ours['failed']:,} failed of {ours['terminal']:,}, "
          f"{len(ours['classes'])} classes; pandas: {theirs['failed']:,} failed of "
          f"{theirs['terminal']:,}, {len(theirs['classes'])} classes")
    print("largest classes (mantis count / pandas count):")
    peer = {c["class"]: c["count"] for c in theirs["classes"]}
    for c in ours["classes"][:5]:
        print(f"  {c['count']:>9,} / {peer.get(c['class'], 0):>9,}  {c['class'][:90]}")


# -- tail ---------------------------------------------------------------------------------------

TAIL_BUCKETS = ("think", "claude_extract", "settle", "claude_ground", "perceive", "load", "act",
                "claude_verify", "overhead")
TAIL_ATTRIBUTES = ("model", "plan_signature", "profile_id", "tenant_id")


def peer_tail(data_dir: str, workflow: str, since: datetime) -> dict[str, Any]:
    """The pandas peer of `mantis runs tail --json`: the same files and dedupe as the failures
    peer; the succeeded runs above p95 against those from p40 to p60, each bucket's excess of
    means (a missing bucket 0) over the gap; then every run, failed ones too, split by the same
    threshold, and per attribute value that max(20, 1 % of the runs) have (model,
    plan_signature, profile_id, tenant_id, the error's first line with numbers replaced) a
    one-sided scipy.stats.fisher_exact, with scipy.stats.false_discovery_control."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    files = sorted(glob.glob(os.path.join(data_dir, "compacted", "*", "part-*.parquet")))
    files += sorted(glob.glob(os.path.join(data_dir, "checkpoints", "*.parquet")))
    frames = [pd.read_parquet(f, columns=["run_id", "status", "finished_at", "total_time_s",
                                          "wall_time_breakdown", "error", *TAIL_ATTRIBUTES],
                              filters=[("workflow_id", "==", workflow),
                                       ("finished_at", ">=", pd.Timestamp(since))])
              for f in files]
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values("finished_at").drop_duplicates("run_id", keep="last")
    buckets = pd.json_normalize(df.pop("wall_time_breakdown").tolist()).fillna(0.0)
    df = pd.concat([df.reset_index(drop=True), buckets], axis=1)
    ok = df[df["status"] == "succeeded"]
    threshold = np.percentile(ok["total_time_s"], 95)
    lo, hi = np.percentile(ok["total_time_s"], [40, 60])
    t = ok[ok["total_time_s"] > threshold]
    m = ok[(ok["total_time_s"] >= lo) & (ok["total_time_s"] <= hi)]
    gap = t["total_time_s"].mean() - m["total_time_s"].mean()
    shares = {b: float((t[b].mean() - m[b].mean()) / gap) for b in TAIL_BUCKETS if b in df}
    df["error"] = df["error"].str.strip().str.split("\n", n=1).str[0].str.replace(
        r"0x[0-9a-f]+|\d+", "<n>", regex=True)
    slow = df["total_time_s"] > threshold
    floor = max(20, int(np.ceil(0.01 * len(df))))
    tested = []
    for column in (*TAIL_ATTRIBUTES, "error"):
        for value, runs in df[column].value_counts().items():
            if runs >= floor:
                k = int((slow & (df[column] == value)).sum())
                table = [[k, runs - k], [int(slow.sum()) - k, len(df) - runs - int(slow.sum()) + k]]
                tested.append((column, value, k, int(runs),
                               float(stats.fisher_exact(table, alternative="greater").pvalue)))
    q = stats.false_discovery_control([x[4] for x in tested]) if tested else []
    return {"threshold": float(threshold), "tail_runs": len(t), "band_runs": len(m),
            "shares": shares, "tested": len(tested),
            "findings": [list(x[:4]) for x, qi in zip(tested, q, strict=True) if qi <= 0.05]}


def bench_tail(args: argparse.Namespace) -> None:
    ours, theirs = mantis_and_peer(args, "tail", 30)
    print(f"mantis: p95 {ours['threshold']:.2f} s, {ours['tail_runs']:,} tail / "
          f"{ours['band_runs']:,} band runs, {len(ours['candidates'])} values tested, findings "
          f"{[(f['attribute'], f['value']) for f in ours['findings']]}")
    print(f"pandas: p95 {theirs['threshold']:.2f} s, {theirs['tail_runs']:,} tail / "
          f"{theirs['band_runs']:,} band runs, {theirs['tested']} values tested, findings "
          f"{[tuple(f[:2]) for f in theirs['findings']]}")
    print("bucket shares (mantis / pandas): " + ", ".join(
        f"{b['bucket']} {b['share']:.4f}/{theirs['shares'].get(b['bucket'], 0.0):.4f}"
        for b in ours["buckets"]))


# -- trend --------------------------------------------------------------------------------------


def peer_trend(data_dir: str, workflow: str, since: datetime) -> dict[str, Any]:
    """The pandas peer of `mantis runs trend --every 1d --json`: the same files and dedupe as
    the failures peer; the succeeded runs grouped by UTC day, per metric (total_time_s and the
    nine buckets; a missing bucket is no value) the count, the linear 50th and 95th percentiles
    (numpy's), p95 left out under 72 runs."""
    import pandas as pd

    files = sorted(glob.glob(os.path.join(data_dir, "compacted", "*", "part-*.parquet")))
    files += sorted(glob.glob(os.path.join(data_dir, "checkpoints", "*.parquet")))
    frames = [pd.read_parquet(f, columns=["run_id", "status", "finished_at", "total_time_s",
                                          "wall_time_breakdown"],
                              filters=[("workflow_id", "==", workflow),
                                       ("finished_at", ">=", pd.Timestamp(since))])
              for f in files]
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values("finished_at").drop_duplicates("run_id", keep="last")
    df = df[df["status"] == "succeeded"]
    buckets = pd.json_normalize(df.pop("wall_time_breakdown").tolist())
    df = pd.concat([df.reset_index(drop=True), buckets], axis=1)
    day = df["finished_at"].dt.tz_convert("UTC").dt.date.astype(str)
    out: dict[str, Any] = {}
    for metric in ("total_time_s", *[b for b in TAIL_BUCKETS if b in df]):
        g = df[metric].groupby(day)
        n, q = g.count(), g.quantile([0.5, 0.95]).unstack()
        out[metric] = {d: [int(n[d]), float(q.loc[d, 0.5]),
                           float(q.loc[d, 0.95]) if n[d] >= 72 else None]
                       for d in n.index if n[d] > 0}
    return out


def bench_trend(args: argparse.Namespace) -> None:
    """`trend --since <365 days ago> --every 1d --json`; then the (metric, day) cells of both
    answers compared exactly, before the live month (the peer reads no JSONL tail)."""
    at = (datetime.now(UTC) - timedelta(days=365)).date().isoformat()
    variants = {
        "mantis": [sys.executable, "-m", "mantis_runs", "runs", "trend", args.workflow,
                   "--data-dir", str(args.data_dir), "--since", at, "--every", "1d", "--json"],
        "pandas": [sys.executable, __file__, "--peer", "trend", "--data-dir",
                   str(args.data_dir), "--workflow", args.workflow, "--since", at],
    }
    print("command: " + " ".join(variants["mantis"][1:]))
    results = alternate(variants, args.src, args.repeat)
    ours, theirs = (json.loads(results[k][-1][4]) for k in ("mantis", "pandas"))
    live = sorted(p.name[:7] for p in (args.data_dir / "runs_log").glob("*.jsonl"))
    before = f"{live[0]}-01" if live else "9999-12-31"
    same = differ = 0
    for m in ours["metrics"]:
        peer = theirs.get(m["metric"], {})
        for i, day in enumerate(ours["periods"]):
            if day < before and m["n"][i]:
                ok = [m["n"][i], m["p50"][i], m["p95"][i]] == peer.get(day)
                same, differ = same + ok, differ + (not ok)
    print(f"(metric, day) cells before {before}: {same:,} equal, {differ:,} differ")


#: --before: each command's window (days) and its further options.
BEFORE = {"failures": (365, []), "tail": (30, []), "trend": (365, ["--every", "1d"])}


def bench_before(args: argparse.Namespace, command: str) -> None:
    """``--before SRC``: this tree's ``mantis runs COMMAND`` (``--src``) against SRC's (the
    old code, e.g. a ``git worktree``), alternated pair by pair after one unmeasured run each;
    the per-pair ratios of wall and CPU times, and whether both printed the same answer (but
    ``end``, the instant each ran)."""
    days, extra = BEFORE[command]
    at = (datetime.now(UTC) - timedelta(days=days)).replace(microsecond=0)
    cmd = [sys.executable, "-m", "mantis_runs", "runs", command, args.workflow, "--data-dir",
           str(args.data_dir), "--since", at.strftime("%Y-%m-%dT%H:%M:%S"), *extra,
           *(["--detect"] if args.detect and command == "trend" else []), "--json"]
    print("command: " + " ".join(cmd[1:]))
    trees = {"after": args.src, "before": args.before}
    if args.empty_memo:  # this tree again, trend's memo emptied before each run
        trees = {"after": args.src, "empty": args.src, "before": args.before}
    for src in trees.values():
        run_once(cmd, src)
    results: dict[str, list[tuple[float, float, float, int, bytes]]] = {k: [] for k in trees}
    for _ in range(args.repeat):
        for name, src in trees.items():
            results[name].append(run_once(cmd, src, empty_memo=name == "empty"))
    for name, runs in results.items():
        print(f"{name:>8}: wall median {statistics.median(r[0] for r in runs):.3f} s, cpu "
              f"median {statistics.median(r[1] for r in runs):.3f} s, peak RSS median "
              f"{statistics.median(r[2] for r in runs):.0f} MiB, exit {runs[-1][3]}")
    for name in [k for k in trees if k != "before"]:
        both = list(zip(results[name], results["before"], strict=True))
        # cpu: user + sys, steadier than wall on a shared machine
        for measure, pairs in (("wall", [b[0] / a[0] for a, b in both]),
                               ("cpu", [b[1] / a[1] for a, b in both])):
            print(f"before / {name} {measure} per pair: median {statistics.median(pairs):.2f} "
                  f"(min {min(pairs):.2f}, max {max(pairs):.2f})")
    if any(not results[k][-1][4] for k in trees):  # a run failed: nothing to compare
        print("answers: " + ", ".join(f"{k} exit {results[k][-1][3]}" for k in trees))
        return
    answers = [json.loads(results[k][-1][4]) for k in trees]
    for answer in answers:
        answer.pop("end", None)
    same = all(a == answers[0] for a in answers)
    print(f"answers: {'the same' if same else 'DIFFERENT'}")


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {"failures": bench_failures,
                                                             "tail": bench_tail,
                                                             "trend": bench_trend}
PEERS = {"failures": peer_failures, "tail": peer_tail, "trend": peer_trend}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--workflow", default=BUSIEST)
    ap.add_argument("--repeat", type=int, default=5, help="runs of each variant, alternating")
    ap.add_argument("--only", choices=sorted(COMMANDS), default=None,
                    help="time this command only (default: every one)")
    ap.add_argument("--src", type=Path, default=ROOT / "src",
                    help="source tree to time (default: this checkout's src/)")
    ap.add_argument("--peer", choices=sorted(PEERS), default=None,
                    help="run this peer once and print its JSON (what the timings run)")
    ap.add_argument("--since", default=None, help="the peer's --since (ISO, UTC)")
    ap.add_argument("--before", type=Path, default=None, metavar="SRC",
                    help="time against mantis from this source tree instead of the peer")
    ap.add_argument("--detect", action="store_true", help="--before: trend with --detect")
    ap.add_argument("--empty-memo", action="store_true",
                    help="--before: also this tree with trend's memo emptied before each run")
    args = ap.parse_args()
    if args.peer:
        since = datetime.fromisoformat(args.since).replace(tzinfo=UTC)
        print(json.dumps(PEERS[args.peer](str(args.data_dir), args.workflow, since)))
        return
    for name, bench in COMMANDS.items():
        if args.only in (None, name):
            print(f"== {name}")
            bench_before(args, name) if args.before else bench(args)


if __name__ == "__main__":
    main()
