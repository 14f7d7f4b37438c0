"""`tail`'s means do not depend on the order the runs are read in (docs/tail.md): the same runs
written in two orders, or compacted, give the same JSON, bit for bit. numpy's sums (pairwise,
or row after row along an axis) round differently in another order, so a lake and a data dir
holding the same runs could differ in the last bit; `exact_mean` is ``math.fsum`` over n."""

from __future__ import annotations

import json
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import write_rows
from mantis_runs.analysis import runs_in_place
from mantis_runs.analysis.runs import WindowRuns, read_runs
from mantis_runs.analysis.tail import TailResult, exact_mean, tail
from mantis_runs.compaction import compact
from mantis_runs.log.record import format_timestamp

WF = "order_wf"
START = datetime(2026, 6, 1, tzinfo=UTC)
END = datetime(2026, 6, 8, tzinfo=UTC)
BUCKETS = ("think", "settle", "claude_verify")


def test_exact_mean_is_the_same_in_any_order_where_numpy_s_is_not() -> None:
    one = np.array([1e16, 1.0, -1e16, 1.0])
    other = np.array([1e16, -1e16, 1.0, 1.0])
    assert (float(np.mean(one)), float(np.mean(other))) == (0.25, 0.5)  # numpy: order matters
    assert exact_mean(one) == exact_mean(other) == 0.5
    rng = np.random.default_rng(5)
    values = rng.lognormal(3.0, 1.0, 1000)
    assert exact_mean(values) == exact_mean(rng.permutation(values)) == exact_mean(
        np.sort(values))
    assert np.isnan(exact_mean(np.zeros(0)))


def rows(n: int = 400, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` runs of WF that finished at only 20 instants (so the order they are read in
    survives the sort by finished_at), with unrounded lognormal buckets."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        buckets = {b: rng.lognormvariate(m, 0.6) for b, m in zip(BUCKETS, (3.0, 2.0, 1.0),
                                                                  strict=True)}
        if i % 7 == 0:
            del buckets["claude_verify"]
        out.append({"run_id": f"order-{i:05d}", "workflow_id": WF, "status": "succeeded",
                    "finished_at": format_timestamp(START + timedelta(hours=1 + i % 20)),
                    "total_time_s": sum(buckets.values()) + rng.expovariate(2.0),
                    "wall_time_breakdown": buckets})
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The same runs in two shuffled orders (JSONL), and the first compacted (Parquet)."""
    root = tmp_path_factory.mktemp("tail-order")
    made = []
    for seed in (1, 2):
        runs = rows()
        random.Random(seed).shuffle(runs)
        write_rows(root / f"order-{seed}", runs)
        made.append(root / f"order-{seed}")
    shutil.copytree(made[0], root / "compacted")
    compact(root / "compacted")
    return [*made, root / "compacted"]


def answer(d: Path) -> TailResult:
    return tail(WF, data_dir=d, since=START, now=END)


def numpy_means(runs: WindowRuns, r: TailResult) -> list[float]:
    """The means as numpy took them (before exact_mean): the tail's and band's total, and each
    bucket's column mean over the tail."""
    assert r.threshold is not None and r.band is not None
    ok = runs.succeeded
    tail_, band = ok & (runs.total > r.threshold), ok & (runs.total >= r.band[0]) & (
        runs.total <= r.band[1])
    cols = np.column_stack([np.nan_to_num(runs.buckets[b]) for b in BUCKETS])
    return [float(runs.total[tail_].mean()), float(runs.total[band].mean()),
            *cols[tail_].mean(axis=0).tolist(), *cols[band].mean(axis=0).tolist()]


def test_the_same_runs_in_another_order_give_the_same_json(stores: list[Path]) -> None:
    results = [answer(d) for d in stores]
    assert results[0].tail_runs >= 10 and results[0].buckets  # an answer, not "too few runs"
    texts = {json.dumps(r.to_json(), sort_keys=True) for r in results}
    assert len(texts) == 1
    # not vacuous: the runs are read in orders where numpy's sums round differently
    read = [read_runs(WF, data_dir=d, start=START, end=END) for d in stores]
    assert len({tuple(numpy_means(runs, results[0])) for runs in read}) > 1


def test_in_place_and_general_paths_agree_on_the_compacted_store(
        stores: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = json.dumps(answer(stores[2]).to_json(), sort_keys=True)
    monkeypatch.setattr(runs_in_place, "IN_PLACE", False)
    assert json.dumps(answer(stores[2]).to_json(), sort_keys=True) == fast
