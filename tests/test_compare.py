"""`compare` end to end: real files, the demo's planted regressions, the CLI's exit statuses,
the same numbers before and after compaction, and narrowing by attribute."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as sps

from helpers import run_cli, write_rows
from mantis_runs.analysis.compare import compare
from mantis_runs.analysis.significance import mann_whitney
from mantis_runs.analysis.verdicts import IMPROVED, REGRESSED, TOO_FEW, UNCHANGED, Options
from mantis_runs.compaction import compact
from mantis_runs.demo import planted_compares, write_demo
from mantis_runs.log.record import format_timestamp

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("compare") / "demo"
    write_demo(d, 3000, now=NOW)
    return d


def verdicts(result: Any) -> dict[str, str]:
    return {m.metric: m.verdict for m in result.metrics}


def test_the_demo_s_planted_regressions_are_found(demo: Path) -> None:
    (wf1, b1, c1), (wf2, b2, c2) = planted_compares()
    r = compare(wf1, data_dir=demo, baseline=b1, current=c1, now=NOW)
    v = verdicts(r)
    assert v["settle"] == REGRESSED and r.exit_code == 1
    assert [m for m, x in v.items() if x == REGRESSED] == ["settle"]
    settle = next(m for m in r.metrics if m.metric == "settle")
    assert settle.p50.ratio is not None and 1.2 <= settle.p50.ratio <= 1.6
    # the tail-only slowdown: `load` is found by its p95, while its p50 does not move
    r = compare(wf2, data_dir=demo, baseline=b2, current=c2, now=NOW)
    load = next(m for m in r.metrics if m.metric == "load")
    assert load.verdict == REGRESSED
    assert load.p95.p_slower is not None and load.p95.p_slower <= 0.01
    assert load.p50.ratio is not None and load.p50.ratio < 1.10


def test_the_numbers_are_numpy_s_and_scipy_s(demo: Path) -> None:
    wf, b, c = planted_compares()[0]
    r = compare(wf, data_dir=demo, baseline=b, current=c, now=NOW, status=None)
    rows = [json.loads(x) for x in sorted((demo / "runs_log").glob("*.jsonl"))
            for x in x.read_text().splitlines()]
    mine = [x for x in rows if x["workflow_id"] == wf]
    cut = NOW - timedelta(days=10)

    def side(lo: datetime, hi: datetime) -> np.ndarray:
        return np.array([x["wall_time_breakdown"]["settle"] for x in mine
                         if "settle" in x["wall_time_breakdown"]
                         and lo <= datetime.fromisoformat(x["finished_at"]) < hi])

    base, cur = side(NOW - timedelta(days=40), cut), side(cut, NOW)
    settle = next(m for m in r.metrics if m.metric == "settle")
    assert (settle.n_baseline, settle.n_current) == (base.size, cur.size)
    assert settle.p50.baseline == float(np.percentile(base, 50))
    assert settle.p95.current == float(np.percentile(cur, 95))
    assert settle.p50.ratio == float(np.percentile(cur, 50)) / float(np.percentile(base, 50))
    ours = mann_whitney(np.sort(base), np.sort(cur))
    theirs = (sps.mannwhitneyu(cur, base, alternative="greater", method="asymptotic").pvalue,
              sps.mannwhitneyu(cur, base, alternative="less", method="asymptotic").pvalue)
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-300)


@pytest.mark.parametrize("seed", range(12))
def test_mann_whitney_is_scipy_s_asymptotic_test(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = np.round(rng.lognormal(0, 0.5, rng.integers(20, 300)), int(rng.integers(0, 3)))
    b = np.round(rng.lognormal(0.05, 0.5, rng.integers(20, 300)), int(rng.integers(0, 3)))
    got = mann_whitney(np.sort(a), np.sort(b))
    want = (sps.mannwhitneyu(b, a, alternative="greater", method="asymptotic").pvalue,
            sps.mannwhitneyu(b, a, alternative="less", method="asymptotic").pvalue)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-300)


def test_the_same_answer_before_and_after_compaction(tmp_path: Path) -> None:
    d = tmp_path / "d"
    write_demo(d, 1500, now=NOW)
    wf, b, c = planted_compares()[0]
    before = compare(wf, data_dir=d, baseline=b, current=c, now=NOW).to_json()
    compact(d, now=NOW, checkpoint_min_bytes=0)
    assert compare(wf, data_dir=d, baseline=b, current=c, now=NOW).to_json() == before


def test_the_cli_exit_statuses(demo: Path) -> None:
    wf, b, c = planted_compares()[0]
    code, out, err = run_cli("runs", "compare", wf, "--data-dir", str(demo), "--baseline", b,
                             "--current", c, "--json")
    # the CLI's windows end now, after the demo's NOW: nothing finished in them
    assert code == 2 and err == ""
    assert json.loads(out)["metrics"][0]["verdict"] == TOO_FEW
    code, out, err = run_cli("runs", "compare", wf, "--data-dir", str(demo), "--baseline",
                             "2026-04-10..2026-05-10T12:00", "--current",
                             "2026-05-10T12:00..2026-05-20T12:00")
    assert code == 1 and err == "", out
    assert "settle" in out and "regressed" in out
    code, out, _ = run_cli("runs", "compare", wf, "--data-dir", str(demo), "--baseline",
                           "2026-03-01..2026-03-31", "--current", "2026-04-01..2026-04-30")
    assert code == 0, out
    code, _, err = run_cli("runs", "compare", "default__marketplace-listing-v1", "--data-dir",
                           str(demo))
    assert code == 2 and err == ("hint: no run has the workflow default__marketplace-listing-v1;"
                                 " similar ones: default__marketplace-listings-v1\n")
    code, _, err = run_cli("runs", "compare", wf, "--data-dir", str(demo), "--current", "x")
    assert code == 2 and "current takes a duration like 7d" in err
    code, _, err = run_cli("runs", "compare", wf, "--data-dir", str(demo), "--where", "host=a")
    assert code == 2 and "cannot narrow a window by host" in err
    code, _, err = run_cli("runs", "compare", wf, "--data-dir", str(demo), "--where", "model")
    assert code == 2 and "takes KEY=VALUE" in err


def run(i: int, model: str, fin: datetime, think: float) -> dict[str, Any]:
    return {"run_id": f"r{i}", "workflow_id": "wf", "status": "succeeded", "model": model,
            "finished_at": format_timestamp(fin), "total_time_s": think + 1.0,
            "wall_time_breakdown": {"think": think, "act": 1.0}}


def test_narrowing_by_attribute_compares_two_models_over_the_same_week(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    rows = [run(i, "fast" if i % 2 else "slow", NOW - timedelta(hours=i + 1),
                float(rng.lognormal(0, 0.3)) * (10.0 if i % 2 else 14.0)) for i in range(160)]
    write_rows(tmp_path, rows)
    week = "7d"
    r = compare("wf", data_dir=tmp_path, baseline=week, current=week, now=NOW,
                baseline_filters={"model": "fast"}, current_filters={"model": "slow"})
    assert (r.total.n_baseline, r.total.n_current) == (80, 80)
    assert verdicts(r)["think"] == REGRESSED
    assert verdicts(r)["act"] == UNCHANGED  # constant: no change, no crash
    r = compare("wf", data_dir=tmp_path, baseline=week, current=week, now=NOW,
                baseline_filters={"model": "slow"}, current_filters={"model": "fast"})
    assert verdicts(r)["think"] == IMPROVED and r.exit_code == 0


def test_failure_rates_and_failed_runs_stay_out_of_the_percentiles(tmp_path: Path) -> None:
    rows = [run(i, "m", NOW - timedelta(days=1 + i % 20, hours=i % 7), 10.0 + i % 5)
            for i in range(100)]
    for r in rows[:10]:
        r["status"], r["total_time_s"] = "failed", 1e6
    write_rows(tmp_path, rows)
    res = compare("wf", data_dir=tmp_path, baseline="21d..10d", current="10d", now=NOW,
                  options=Options(min_runs=5))
    fb, fc = res.failures
    assert fb.failed + fc.failed == 10 and fb.terminal + fc.terminal == 100
    assert res.total.p95.current is not None and res.total.p95.current < 100
    assert not math.isnan(res.to_json()["failures"][0]["rate"] or 0.0)
