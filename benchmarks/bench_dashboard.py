"""Cold-process timing of `mantis runs dashboard` against a pandas script doing the same.

Each run of mantis is a fresh ``python -m mantis_runs runs dashboard WF --output FILE`` (start,
imports, every section's read and statistics, the page). The peer is this script in
``--peer`` mode, also a fresh process: pandas reads the same Parquet parts and the live month's
checkpoint (every file whose month the window touches), keeps the latest copy of each run_id,
and computes the same sections: the stats table (numpy percentiles of the newest 100 succeeded
runs), the daily or weekly p50/p95 per metric with PELT change points (ruptures when installed:
the breakpoints of mantis's own PELT) each checked by a Mann-Whitney U on the runs of 7 periods
either side, compare's verdicts (scipy's Mann-Whitney U for p50, a resampling bootstrap of the
p95 ratio with ``--peer-draws`` resamples, Holm), the tail (excess per bucket, Fisher's exact
test per attribute value, Benjamini-Hochberg) and the failure classes (first line, digits and
hex replaced), then writes the tables with ``DataFrame.to_html`` (no charts: a lower bound for
the peer). The two are alternated pair by pair (this machine's timings drift; compare the
pairs), after one unmeasured run of each to warm the page cache. Wall, CPU (user + sys) and
peak RSS per process come from ``os.wait4``. It also checks that both print the same stats
table (the page's ``data-value`` cells against the peer's numbers).

The busiest workflow of the last 90 days::

    mantis runs sql --data-dir /work/bench-data/c10m2 "SELECT workflow_id, count(*) AS n
        FROM runs WHERE finished_at > now() - INTERVAL 90 DAY GROUP BY 1 ORDER BY 2 DESC LIMIT 1"

    python benchmarks/bench_dashboard.py --data-dir /work/bench-data/c10m2 --repeat 3

``--before SRC`` times this tree against mantis from another source tree instead of the peer
(``git worktree add /tmp/old HEAD``, then ``--before /tmp/old/src``).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import statistics
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench_compare import BUSIEST, ROOT
from coldrun import cold, summary

BUCKETS = ("think", "claude_extract", "settle", "claude_ground", "perceive", "load", "act",
           "claude_verify", "overhead")
ATTRIBUTES = ("model", "plan_signature", "profile_id", "tenant_id")
METRICS = ("total_time_s", *BUCKETS)


# -- the peer --------------------------------------------------------------------------------------


def peer_load(data_dir: str, workflow: str, start: datetime, end: datetime) -> Any:
    import pandas as pd

    parts = glob.glob(os.path.join(data_dir, "compacted", "*", "part-*.parquet"))
    files = [f for f in sorted(parts) if Path(f).parent.name >= f"{start:%Y-%m}"]
    files += sorted(glob.glob(os.path.join(data_dir, "checkpoints", "*.parquet")))
    columns = ["run_id", "status", "finished_at", "total_time_s", "wall_time_breakdown", "error",
               *ATTRIBUTES]
    frames = [pd.read_parquet(f, columns=columns,
                              filters=[("workflow_id", "==", workflow),
                                       ("finished_at", ">=", pd.Timestamp(start)),
                                       ("finished_at", "<", pd.Timestamp(end))]) for f in files]
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values("finished_at").drop_duplicates("run_id", keep="last")
    buckets = pd.DataFrame(df.pop("wall_time_breakdown").tolist(), index=df.index)
    return pd.concat([df, buckets], axis=1).reset_index(drop=True)


def peer_trend(df: Any, start: datetime, now: datetime) -> Any:
    import numpy as np
    import pandas as pd
    from scipy import stats as sps

    ok = df[(df["status"] == "succeeded") & (df["finished_at"] >= start)]
    daily = ok.groupby(ok["finished_at"].dt.floor("D")).size().median() >= 20
    period = ok["finished_at"].dt.floor("D") if daily else \
        ok["finished_at"].dt.to_period("W-SUN").dt.start_time.dt.tz_localize("UTC")
    per = ok.groupby(period)[list(METRICS)]
    p50, p95 = per.median(), per.quantile(0.95)
    changes = []
    try:
        import ruptures
    except ImportError:
        ruptures = None
    for m in METRICS if ruptures is not None else ():
        y = np.log(p50[m].dropna().to_numpy())
        if y.size < 10:
            continue
        sigma = 1.4826 * np.median(np.abs(np.diff(y) - np.median(np.diff(y)))) / np.sqrt(2)
        ends = ruptures.Pelt(model="l2", min_size=5, jump=1).fit(y.reshape(-1, 1)).predict(
            pen=3 * sigma * sigma * np.log(y.size))
        keys = p50[m].dropna().index
        for e in ends[:-1]:
            at, width = keys[e], pd.Timedelta(days=7 if daily else 28)
            before = ok[(period >= at - width) & (period < at)][m].dropna()
            after = ok[(period >= at) & (period < at + width)][m].dropna()
            changes.append((m, str(at.date()), float(sps.mannwhitneyu(after, before).pvalue)))
    return p50, p95, changes


def peer_compare(df: Any, now: datetime, draws: int) -> list[dict[str, Any]]:
    import numpy as np
    from scipy import stats as sps

    ok = df[df["status"] == "succeeded"]
    cur_start, base_start = now - timedelta(days=7), now - timedelta(days=35)
    base = ok[(ok["finished_at"] >= base_start) & (ok["finished_at"] < cur_start)]
    cur = ok[ok["finished_at"] >= cur_start]
    rng, rows, pvalues = np.random.default_rng(0), [], []
    for m in METRICS:
        b, c = base[m].dropna().to_numpy(), cur[m].dropna().to_numpy()
        if min(b.size, c.size) < 20:
            continue
        boot = [np.quantile(rng.choice(c, c.size), 0.95) / np.quantile(rng.choice(b, b.size), 0.95)
                for _ in range(draws)]
        pvalues += [float(sps.mannwhitneyu(c, b, alternative="greater").pvalue),
                    float(np.mean(np.asarray(boot) <= 1.0))]
        rows.append({"metric": m, "ratio_p50": float(np.median(c) / np.median(b)),
                     "ratio_p95": float(np.quantile(c, 0.95) / np.quantile(b, 0.95))})
    order, running = np.argsort(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        rows[i // 2]["p_p50" if i % 2 == 0 else "p_p95"] = running
    return rows


def peer_tail(df: Any, now: datetime) -> dict[str, Any]:
    import numpy as np
    from scipy import stats as sps

    week = df[df["finished_at"] >= now - timedelta(days=7)]
    ok = week[week["status"] == "succeeded"]
    threshold = ok["total_time_s"].quantile(0.95)
    lo, hi = ok["total_time_s"].quantile([0.4, 0.6])
    tail, band = ok[ok["total_time_s"] > threshold], ok[ok["total_time_s"].between(lo, hi)]
    excess = (tail[list(BUCKETS)].fillna(0).mean() - band[list(BUCKETS)].fillna(0).mean())
    in_tail = week["total_time_s"] > threshold
    found = []
    week = week.assign(error_class=week["error"].map(error_class))
    for attribute in (*ATTRIBUTES, "error_class"):
        counts = week.groupby(attribute).size()
        for value, runs in counts[counts >= max(20, len(week) // 100)].items():
            has = week[attribute] == value
            k = int((has & in_tail).sum())
            table = [[k, int(in_tail.sum()) - k], [int(runs) - k, len(week) - int(runs)
                                                   - int(in_tail.sum()) + k]]
            found.append((attribute, value, float(sps.fisher_exact(table, "greater")[1])))
    q = sps.false_discovery_control([p for *_, p in found]) if found else np.array([])
    return {"threshold": float(threshold), "excess": excess.to_dict(),
            "findings": [f[:2] for f, qv in zip(found, q, strict=True) if qv <= 0.05]}


def error_class(text: Any) -> Any:
    if not isinstance(text, str) or not text.strip():
        return None
    line = text.strip().splitlines()[0]
    return re.sub(r"0x[0-9a-f]+|\d+", "<n>", line)


def peer(args: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd

    now = datetime.fromisoformat(args.now)
    start = now - timedelta(days=90)
    df = peer_load(args.data_dir, args.workflow, start - timedelta(days=7), now)
    ok = df[(df["status"] == "succeeded") & (df["finished_at"] >= start)]
    newest = ok.sort_values(["finished_at", "run_id"]).tail(100)
    table = {m: [float(np.percentile(newest[m].dropna(), q)) for q in (50, 95, 99)]
             for m in METRICS if newest[m].notna().any()}
    p50, p95, changes = peer_trend(df, start, now)
    verdicts = peer_compare(df, now, args.peer_draws)
    tail = peer_tail(df, now)
    failed = df[(df["status"] == "failed") & (df["finished_at"] >= start)]
    classes = failed.assign(cls=failed["error"].map(error_class)).groupby("cls").agg(
        runs=("run_id", "size"), first=("finished_at", "min"), last=("finished_at", "max"))
    html = "".join(x.to_html() for x in (pd.DataFrame(table), pd.DataFrame(verdicts),
                                           pd.Series(tail["excess"]).to_frame("excess")))
    Path(args.output).write_text(html + p50.to_html() + p95.to_html() + classes.to_html(),
                                 encoding="utf-8")
    print(json.dumps({"stats": table, "changes": changes, "failed": len(failed),
                      "findings": [list(map(str, f)) for f in tail["findings"]]}))


# -- the benchmark ---------------------------------------------------------------------------------


def page_stats(html: str) -> dict[str, list[float]]:
    """The stats table of a dashboard page: bucket -> [p50, p95, p99] from data-value."""
    out = {}
    for bucket, row in re.findall(r'<tr class="[^"]*" data-bucket="([^"]*)">(.*?)</tr>', html):
        values = re.findall(r'data-value="([^"]*)"', row)
        out[bucket] = [float(v) for v in values[:3]]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--workflow", default=BUSIEST)
    ap.add_argument("--repeat", type=int, default=3, help="pairs of cold runs, alternating")
    ap.add_argument("--peer-draws", type=int, default=200,
                    help="the peer's bootstrap resamples (mantis draws 10,000 exactly)")
    ap.add_argument("--peer", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--now", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--output", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--before", type=Path, default=None, metavar="SRC",
                    help="time against mantis from this source tree (e.g. a git worktree of "
                         "the previous commit) instead of the pandas peer")
    args = ap.parse_args()
    if args.peer:
        peer(args)
        return
    if args.before:
        before(args)
        return
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as work:
        page, peer_page = Path(work) / "page.html", Path(work) / "peer.html"
        mantis = ["-m", "mantis_runs", "runs", "dashboard", args.workflow, "--data-dir",
                  args.data_dir, "--output", str(page)]
        print("command: python " + " ".join(mantis))
        script = [str(Path(__file__)), "--peer", "--data-dir", args.data_dir, "--workflow",
                  args.workflow, "--now", now, "--output", str(peer_page),
                  "--peer-draws", str(args.peer_draws)]
        variants = {"mantis dashboard": mantis, "pandas peer": script}
        results: dict[str, list[tuple[float, float, float, int, bytes]]] = {}
        for name, cmd in variants.items():
            cold(cmd, ROOT / "src")  # warm the page cache
            results[name] = []
        for _ in range(args.repeat):
            for name, cmd in variants.items():
                results[name].append(cold(cmd, ROOT / "src"))
        for name, runs in results.items():
            print(summary(name, runs))
        pairs = [p[0] / m[0] for m, p in zip(*results.values(), strict=True)]
        print(f"peer / mantis wall per pair: median {statistics.median(pairs):.2f} "
              f"(min {min(pairs):.2f}, max {max(pairs):.2f})")
        _agreement(page.read_text(encoding="utf-8"), results["pandas peer"][-1][4])


def before(args: argparse.Namespace) -> None:
    """``--before SRC``: this tree's dashboard against SRC's, alternated pair by pair after one
    unmeasured run of each; and whether both pages hold the same numbers (data-value cells)."""
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as work:
        trees = {"after": ROOT / "src", "before": args.before}
        pages = {name: Path(work) / f"{name}.html" for name in trees}
        cmds = {name: ["-m", "mantis_runs", "runs", "dashboard", args.workflow, "--data-dir",
                       args.data_dir, "--output", str(page)] for name, page in pages.items()}
        print("command: python " + " ".join(cmds["after"]))
        for name, src in trees.items():
            cold(cmds[name], src)
        results: dict[str, list[tuple[float, float, float, int, bytes]]] = {k: [] for k in trees}
        for _ in range(args.repeat):
            for name, src in trees.items():
                results[name].append(cold(cmds[name], src))
        for name, runs in results.items():
            print(summary(name, runs))
        pairs = [b[0] / a[0] for a, b in zip(results["after"], results["before"], strict=True)]
        print(f"before / after wall per pair: median {statistics.median(pairs):.2f} "
              f"(min {min(pairs):.2f}, max {max(pairs):.2f})")
        cells = [re.findall(r'data-value="([^"]*)"', p.read_text(encoding="utf-8"))
                 for p in pages.values()]
        print(f"data-value cells: {'the same' if cells[0] == cells[1] else 'DIFFERENT'} "
              f"({len(cells[0])}; each process reads at its own now: runs at a window's edge "
              "may differ)")


def _agreement(html: str, peer_out: bytes) -> None:
    mine = page_stats(html)
    theirs = json.loads(peer_out)["stats"]
    differ = [m for m in theirs if m in mine and
              any(abs(a - b) > 1e-9 * max(1.0, abs(b)) for a, b in zip(mine[m], theirs[m],
                                                                      strict=True))]
    print(f"stats table: {'the same' if not differ else 'DIFFERENT for ' + ', '.join(differ)} "
          f"({len(theirs)} metrics)")


if __name__ == "__main__":
    main()
