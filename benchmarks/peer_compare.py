"""The peer of `mantis runs compare`: what a user would script with pandas and scipy.

Reads the compacted Parquet parts (and the live month's checkpoint) of a data dir with pandas,
keeps one copy per run_id (the latest finished_at), cuts the baseline and current windows, and
runs the same tests per metric: a one-sided Mann-Whitney U for p50 and a percentile bootstrap
of the p95 ratio (``scipy.stats.bootstrap``, resampling, ``--batch`` resamples at a time: all
2,000 at once hold 2,000 x n indices, 10 GB at n = 250,000), with Holm's adjustment. It prints
the verdicts as JSON. It is a benchmark peer, not a reference: mantis's own tests check its numbers.

Usage::

    python benchmarks/peer_compare.py --data-dir /work/bench-data/c10m \\
        --workflow default__marketplace-listings-v1 [--now 2026-12-04T00:00:00Z] [--draws 2000]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from scipy import stats

BUCKETS = ("think", "claude_extract", "settle", "claude_ground", "perceive", "load", "act",
           "claude_verify", "overhead")


def load(data_dir: str, workflow: str, since: datetime) -> pd.DataFrame:
    files = sorted(glob.glob(os.path.join(data_dir, "compacted", "*", "part-*.parquet")))
    files += sorted(glob.glob(os.path.join(data_dir, "checkpoints", "*.parquet")))
    frames = [pd.read_parquet(f, columns=["run_id", "workflow_id", "status", "finished_at",
                                          "total_time_s", "wall_time_breakdown"],
                              filters=[("workflow_id", "==", workflow),
                                       ("finished_at", ">=", pd.Timestamp(since))])
              for f in files]
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values("finished_at").drop_duplicates("run_id", keep="last")
    breakdown = pd.json_normalize(df.pop("wall_time_breakdown").tolist())
    return pd.concat([df.reset_index(drop=True), breakdown], axis=1)


def holm(p: list[float]) -> list[float]:
    order = np.argsort(p)
    out = np.empty(len(p))
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p) - rank) * p[i]))
        out[i] = running
    return out.tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--workflow", required=True)
    ap.add_argument("--now", default=None)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=100,
                    help="bootstrap resamples held in memory at once (scipy's batch)")
    args = ap.parse_args()
    now = (datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now
           else datetime.now(UTC))
    cur_start, base_start = now - timedelta(days=7), now - timedelta(days=35)
    df = load(args.data_dir, args.workflow, base_start)
    ok = df[df["status"] == "succeeded"]
    base = ok[(ok["finished_at"] >= base_start) & (ok["finished_at"] < cur_start)]
    cur = ok[(ok["finished_at"] >= cur_start) & (ok["finished_at"] < now)]
    rng = np.random.default_rng(0)
    rows, slower = [], []
    for metric in ("total_time_s", *BUCKETS):
        b, c = base[metric].dropna().to_numpy(), cur[metric].dropna().to_numpy()
        if min(len(b), len(c)) < 20:
            continue
        p50 = stats.mannwhitneyu(c, b, alternative="greater").pvalue
        ratio95 = np.quantile(c, 0.95) / np.quantile(b, 0.95)
        boot = stats.bootstrap((c, b), lambda x, y: np.quantile(x, 0.95) / np.quantile(y, 0.95),
                               n_resamples=args.draws, method="percentile", vectorized=False,
                               random_state=rng, paired=False, batch=args.batch)
        p95 = float(np.mean(boot.bootstrap_distribution <= 1.0))
        slower += [float(p50), p95]
        rows.append({"metric": metric, "n": [len(b), len(c)],
                     "ratio_p50": float(np.median(c) / np.median(b)), "ratio_p95": ratio95,
                     "ci_p95": [boot.confidence_interval.low, boot.confidence_interval.high]})
    adjusted = holm(slower)
    for i, r in enumerate(rows):
        r["p_p50"], r["p_p95"] = adjusted[2 * i], adjusted[2 * i + 1]
    print(json.dumps(rows, default=float))


if __name__ == "__main__":
    main()
