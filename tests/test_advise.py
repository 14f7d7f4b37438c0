"""`mantis runs advise`: timeouts from the upper end of p99's interval over succeeded runs,
against numpy and scipy (``quantile_test``) on generated data; failed runs never enter p99;
"not enough runs" exactly below ``intervals.min_runs(0.99)``; the CLI's text and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats as scipy_stats

from helpers import run_cli, write_rows
from mantis_runs import RunStore
from mantis_runs.analysis.advise import advise
from mantis_runs.stats.intervals import min_runs

START = datetime(2026, 3, 1, tzinfo=UTC)
NEEDED = min_runs(0.99)


def generated(n_ok: int, n_failed: int, seed: int) -> list[dict[str, Any]]:
    """Succeeded runs with lognormal buckets (think always, settle in two runs of three), and
    failed runs far slower than any of them, interleaved in time."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_ok + n_failed):
        failed = i % max(1, (n_ok + n_failed) // max(1, n_failed)) == 0 and \
            sum(r["status"] == "failed" for r in rows) < n_failed
        think = float(rng.lognormal(3.0, 0.5)) * (50 if failed else 1)
        breakdown = {"think": round(think, 3)}
        if i % 3:
            breakdown["settle"] = round(float(rng.lognormal(1.0, 0.8)), 3)
        rows.append({"run_id": f"r{i:05d}", "workflow_id": "wf",
                     "status": "failed" if failed else "succeeded",
                     "finished_at": START + timedelta(minutes=7 * i),
                     "total_time_s": round(sum(breakdown.values()) + 1.0, 3),
                     "wall_time_breakdown": breakdown, "error": "boom" if failed else None})
    return rows


def expected(rows: list[dict[str, Any]], metric: str, margin: float) -> dict[str, Any]:
    def value(r: dict[str, Any]) -> float | None:
        return r["total_time_s"] if metric == "total_time_s" else \
            r["wall_time_breakdown"].get(metric)

    ok = np.array([v for r in rows if r["status"] == "succeeded"
                   and (v := value(r)) is not None])
    every = np.array([v for r in rows if (v := value(r)) is not None])
    high = float(scipy_stats.quantile_test(ok, p=0.99).confidence_interval(0.95).high)
    timeout = high * margin if np.isfinite(high) else None
    return {"metric": metric, "n": ok.size, "p99": float(np.percentile(ok, 99)),
            "p99_upper": high if timeout is not None else None, "timeout_s": timeout,
            "cut": 0 if timeout is None else int(np.count_nonzero(every > timeout)),
            "judged": every.size}


def got(m: Any) -> dict[str, Any]:
    return {"metric": m.metric, "n": m.n, "p99": m.p99, "p99_upper": m.p99_upper,
            "timeout_s": m.timeout_s, "cut": m.cut, "judged": m.judged}


@pytest.mark.parametrize("seed", [1, 2])
def test_advise_agrees_with_numpy_and_scipy(tmp_path: Path, seed: int) -> None:
    rows = generated(900, 60, seed)
    write_rows(tmp_path, rows)
    r = advise("wf", data_dir=tmp_path, margin=1.3)
    assert (r.succeeded, r.failed) == (900, 60)
    assert got(r.total) == expected(rows, "total_time_s", 1.3)
    assert [got(b) for b in r.buckets] == [expected(rows, "think", 1.3),
                                          expected(rows, "settle", 1.3)]
    assert r.total.cut > 0  # the slow failed runs would have been cut
    assert r.total.cut_share == r.total.cut / 960


def test_failed_runs_never_enter_the_percentile(tmp_path: Path) -> None:
    rows = generated(700, 0, 3)
    write_rows(tmp_path / "ok", rows)
    slow = [{**r, "run_id": f"f{i}", "status": "failed", "total_time_s": 1e6,
             "finished_at": r["finished_at"] + timedelta(seconds=30)}
            for i, r in enumerate(rows[:200])]
    write_rows(tmp_path / "both", rows + slow)
    alone, mixed = (advise("wf", data_dir=tmp_path / d) for d in ("ok", "both"))
    assert (alone.total.n, alone.total.p99, alone.total.p99_upper) == \
        (mixed.total.n, mixed.total.p99, mixed.total.p99_upper)
    assert mixed.total.cut == alone.total.cut + 200 and mixed.total.judged == 900


def test_not_enough_runs_exactly_below_min_runs(tmp_path: Path) -> None:
    assert NEEDED == 368
    rows = generated(NEEDED, 0, 4)
    write_rows(tmp_path, rows)
    first = START + timedelta(minutes=7)  # leaves out the oldest run: NEEDED - 1
    short = advise("wf", data_dir=tmp_path, since=first)
    assert (short.total.n, short.total.enough, short.total.timeout_s) == (NEEDED - 1, False, None)
    assert short.total.needed_runs == NEEDED and short.total.cut_share is None
    full = advise("wf", data_dir=tmp_path)
    assert full.total.enough and got(full.total) == expected(rows, "total_time_s", 1.2)
    last = advise("wf", data_dir=tmp_path, last=NEEDED - 1)
    assert last.total.n == NEEDED - 1 and not last.total.enough
    assert RunStore(tmp_path).advise("wf").total.timeout_s == full.total.timeout_s


def test_cli_text_json_and_exit_status(tmp_path: Path) -> None:
    rows = [{"run_id": f"r{i}", "workflow_id": "wf", "status": "succeeded",
             "finished_at": START + timedelta(minutes=i), "total_time_s": float(i + 1),
             "wall_time_breakdown": {"think": float(i % 10)}} for i in range(400)]
    rows.append({"run_id": "x", "workflow_id": "wf", "status": "failed", "total_time_s": 900.0,
                 "finished_at": START + timedelta(minutes=500)})
    write_rows(tmp_path, rows)
    code, out, err = run_cli("runs", "advise", "wf", "--data-dir", str(tmp_path))
    assert (code, err) == (0, "")
    # 400 values 1..400: p99 = 396.01; the upper end of its interval is the largest value (rank
    # 399 of 0..399, scipy's quantile_test), 400, times 1.2 = 480: only the failed run is longer
    assert out == (
        "Timeouts for wf (all history):\n"
        "400 succeeded and 1 failed runs; timeout = upper end of p99's 95% interval × 1.2.\n"
        "p99 is over succeeded runs only; cut: the runs, succeeded and failed, longer than the "
        "timeout.\n\n"
        "metric          n     p99    p99 upper    timeout               cut\n"
        "------------  ---  ------  -----------  ---------  ----------------\n"
        "total_time_s  400  396.0s      400.0s*     480.0s  0.25% (1 of 401)\n"
        "think         400    9.0s        9.0s*      10.8s  0.00% (0 of 400)\n"
        "* bound is the largest run seen: too few runs for a tighter one, so one outlier sets "
        "the timeout.\n")
    code, out, err = run_cli("runs", "advise", "wf", "--data-dir", str(tmp_path), "--last",
                             "100", "--margin", "2", "--json")
    assert (code, err) == (2, "")
    doc = json.loads(out)
    assert (doc["last"], doc["margin"], doc["total"]["n"], doc["total"]["enough"],
            doc["total"]["needed_runs"], doc["total"]["timeout_s"]) == (100, 2.0, 99, False,
                                                                      368, None)
    code, out, err = run_cli("runs", "advise", "wf", "--data-dir", str(tmp_path), "--margin",
                             "nan")
    assert code == 2 and out == "" and "Traceback" not in err
