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
from mantis_runs import RunStore
from mantis_runs.analysis.compare import compare
from mantis_runs.analysis.significance import mann_whitney
from mantis_runs.analysis.verdicts import IMPROVED, REGRESSED, TOO_FEW, UNCHANGED, Options
from mantis_runs.compaction import compact
from mantis_runs.demo import planted_compares, write_demo
from mantis_runs.errors import UsageError
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
    # a failure is 3, never 1 (a regression): a CI job must tell them apart
    missing = demo.parent / "no-such-dir"
    code, out, err = run_cli("runs", "compare", wf, "--data-dir", str(missing))
    assert (code, out, err) == (3, "", f"error: data dir {missing} does not exist\n")


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


# -- --group-by ---------------------------------------------------------------------------------

BASE_W, CUR_W = "2026-05-01..2026-05-10", "2026-05-10..2026-05-20"


def grouped_rows() -> list[dict[str, Any]]:
    """A small fixed store: model a (26 runs a side, `think` ×1.5 in the current window),
    model b (22 a side, unchanged, one failed run in the current window), and 21 runs a side
    without a model; no randomness."""
    rows: list[dict[str, Any]] = []

    def add(model: str | None, n: int, start: datetime, slower: float) -> None:
        for k in range(n):
            think = (10.0 + (k % 7) * 0.5 + (k % 3) * 0.25) * slower
            row = run(len(rows), model or "", start + timedelta(hours=3 * k + 1), think)
            if model is None:
                del row["model"]
            rows.append(row)

    base, cur = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 10, tzinfo=UTC)
    for model, n, slower in (("a", 26, 1.5), ("b", 22, 1.0), (None, 21, 1.0)):
        add(model, n, base, 1.0)
        add(model, n, cur, slower)
    rows[26 + 26 + 22 + 5]["status"] = "failed"  # model b, current window
    return rows


@pytest.fixture
def grouped(tmp_path: Path) -> Path:
    write_rows(tmp_path, grouped_rows())
    return tmp_path


def test_group_by_finds_a_regression_of_one_model_only(grouped: Path) -> None:
    r = compare("wf", data_dir=grouped, baseline=BASE_W, current=CUR_W, now=NOW,
                group_by="model")
    by = {g.value: g for g in r.groups}
    assert [g.value for g in r.groups] == ["a", "b", None]  # largest first, no model last
    assert verdicts(by["a"].result)["think"] == REGRESSED
    assert verdicts(by["b"].result)["think"] == UNCHANGED
    assert verdicts(by[None].result)["think"] == UNCHANGED
    assert (by["a"].runs_baseline, by["a"].runs_current) == (26, 26)
    assert (by["b"].runs_baseline, by["b"].runs_current) == (22, 21)  # one failed
    assert by["b"].result.failures[1].failed == 1
    assert r.exit_code == 1
    # each group is exactly the ungrouped comparison of its runs (its own Holm family)
    alone = compare("wf", data_dir=grouped, baseline=BASE_W, current=CUR_W, now=NOW,
                    baseline_filters={"model": "b"}, current_filters={"model": "b"})
    assert by["b"].result.metrics == alone.metrics
    assert by["b"].result.failures == alone.failures
    store = RunStore(grouped).compare("wf", baseline=BASE_W, current=CUR_W, group_by="model")
    assert store.to_json() == r.to_json()


def test_group_by_reads_the_store_once(grouped: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mantis_runs.analysis import runs

    calls: list[tuple[str, ...]] = []
    real = runs.read_runs

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(tuple(kwargs["attributes"]))
        return real(*args, **kwargs)

    monkeypatch.setattr("mantis_runs.analysis.compare.read_runs", counted)
    compare("wf", data_dir=grouped, baseline=BASE_W, current=CUR_W, now=NOW, group_by="model",
            current_filters={"tenant_id": "t"})
    assert calls == [("model", "tenant_id")]


def test_group_order_ties_and_exit_statuses(tmp_path: Path) -> None:
    rows = [run(i, m, datetime(2026, 5, 2 + 9 * (i % 2), tzinfo=UTC) + timedelta(hours=i), 5.0)
            for i, m in enumerate(["z"] * 6 + ["y"] * 6 + ["x"] * 8)]
    write_rows(tmp_path, rows)
    r = compare("wf", data_dir=tmp_path, baseline=BASE_W, current=CUR_W, now=NOW,
                group_by="model")
    assert [(g.value, g.runs_baseline, g.runs_current) for g in r.groups] == [
        ("x", 4, 4), ("y", 3, 3), ("z", 3, 3)]  # ties by value
    assert r.exit_code == 2  # every group has too few runs
    r = compare("wf", data_dir=tmp_path, baseline=BASE_W, current=CUR_W, now=NOW,
                group_by="model", options=Options(min_runs=4))
    assert [g.result.exit_code for g in r.groups] == [0, 2, 2] and r.exit_code == 0
    r = compare("wf", data_dir=tmp_path, baseline="2020-01-01..2020-02-01",
                current="2020-02-01..2020-03-01", now=NOW, group_by="model")
    assert r.groups == [] and r.exit_code == 2 and r.empty


def test_group_by_cli_text(grouped: Path) -> None:
    code, out, err = run_cli("runs", "compare", "wf", "--data-dir", str(grouped), "--baseline",
                             BASE_W, "--current", CUR_W, "--group-by", "model",
                             "--bucket", "think")
    assert (code, err) == (1, "")
    assert out == GROUPED_TEXT


GROUPED_TEXT = "\n".join([
    "Compare wf, succeeded runs, by model (3 groups):",
    "  baseline  2026-05-01 00:00 .. 2026-05-10 00:00 UTC",
    "  current   2026-05-10 00:00 .. 2026-05-20 00:00 UTC",
    "",
    ("model a: 26 baseline runs, 26 current; failure rate 0.0% of 26 runs → 0.0% of 26"
     " runs"),
    ("metric          n base    n cur    p50 base    p50 cur  p50 ratio [95% CI]      "
     "p95 base    p95 cur  p95 ratio [95% CI]      p (Holm)  verdict"),
    ("------------  --------  -------  ----------  ---------  --------------------  --"
     "--------  ---------  --------------------  ----------  ---------"),
    ("total_time_s        26       26       12.5s      18.2s  ×1.460 [1.37, 1.55]     "
     "  14.2s~     20.8s~  —                        <0.0001  regressed"),
    ("think               26       26       11.5s      17.2s  ×1.500 [1.40, 1.60]     "
     "  13.2s~     19.8s~  —                        <0.0001  regressed"),
    "",
    "~ p95 is rough and not tested below 72 runs a side.",
    ("Smallest change of total_time_s these runs detect (80% power): p50 ×1.30; 'uncha"
     "nged' is not proof of equal."),
    "",
    ("model b: 22 baseline runs, 21 current; failure rate 0.0% of 22 runs → 4.5% of 22"
     " runs"),
    ("metric          n base    n cur    p50 base    p50 cur  p50 ratio [95% CI]      "
     "p95 base    p95 cur  p95 ratio [95% CI]      p (Holm)  verdict"),
    ("------------  --------  -------  ----------  ---------  --------------------  --"
     "--------  ---------  --------------------  ----------  ---------"),
    ("total_time_s        22       21       12.6s      12.5s  ×0.990 [0.92, 1.08]     "
     "  14.2s~     14.2s~  —                         0.8550  unchanged"),
    ("think               22       21       11.6s      11.5s  ×0.989 [0.91, 1.09]     "
     "  13.2s~     13.2s~  —                         0.8550  unchanged"),
    "",
    "~ p95 is rough and not tested below 72 runs a side.",
    ("Smallest change of total_time_s these runs detect (80% power): p50 ×1.13; 'uncha"
     "nged' is not proof of equal."),
    "",
    ("model (none): 21 baseline runs, 21 current; failure rate 0.0% of 21 runs → 0.0% "
     "of 21 runs"),
    ("metric          n base    n cur    p50 base    p50 cur  p50 ratio [95% CI]      "
     "p95 base    p95 cur  p95 ratio [95% CI]      p (Holm)  verdict"),
    ("------------  --------  -------  ----------  ---------  --------------------  --"
     "--------  ---------  --------------------  ----------  ---------"),
    ("total_time_s        21       21       12.8s      12.8s  ×1.000 [0.92, 1.08]     "
     "  14.2s~     14.2s~  —                         1.0000  unchanged"),
    ("think               21       21       11.8s      11.8s  ×1.000 [0.92, 1.09]     "
     "  13.2s~     13.2s~  —                         1.0000  unchanged"),
    "",
    "~ p95 is rough and not tested below 72 runs a side.",
    ("Smallest change of total_time_s these runs detect (80% power): p50 ×1.10; 'uncha"
     "nged' is not proof of equal."),
    "",
    ("regressed: Holm p <= 0.01 and ratio >= 1.1 and change >= 0.25s (p50 by Mann-Whit"
     "ney U, p95 by an exact bootstrap). Each group is its own Holm family."),
]) + "\n"


def test_group_by_json(grouped: Path) -> None:
    code, out, _ = run_cli("runs", "compare", "wf", "--data-dir", str(grouped), "--baseline",
                           BASE_W, "--current", CUR_W, "--group-by", "model", "--json")
    got = json.loads(out)
    assert code == 1
    assert sorted(got) == ["baseline", "current", "exit_code", "group_by", "groups", "options",
                           "skipped_lines", "status", "workflow_id"]
    assert got["skipped_lines"] == {}
    assert (got["group_by"], got["exit_code"], got["status"]) == ("model", 1, "succeeded")
    assert got["baseline"] == {"start": "2026-05-01T00:00:00Z", "end": "2026-05-10T00:00:00Z",
                               "filters": {}}
    assert [(g["value"], g["runs_baseline"], g["runs_current"]) for g in got["groups"]] == [
        ("a", 26, 26), ("b", 22, 21), (None, 21, 21)]
    for g in got["groups"]:
        assert sorted(g) == ["comparison", "runs_baseline", "runs_current", "value"]
        assert g["comparison"]["metrics"][0]["metric"] == "total_time_s"
    a = compare("wf", data_dir=grouped, baseline=BASE_W, current=CUR_W, now=NOW,
                group_by="model").groups[0].result
    assert got["groups"][0]["comparison"] == json.loads(json.dumps(a.to_json()))


def test_a_bad_group_by_is_a_usage_error(grouped: Path) -> None:
    code, out, err = run_cli("runs", "compare", "wf", "--data-dir", str(grouped),
                             "--group-by", "host")
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == ("Error: cannot group by 'host'; use model, plan_signature, "
                                    "profile_id, tenant_id")
    assert "Traceback" not in err
    with pytest.raises(UsageError, match="cannot group by 'workflow_id'"):
        compare("wf", data_dir=grouped, group_by="workflow_id")


def test_buckets_outside_the_known_nine_and_text_values(tmp_path: Path) -> None:
    """The other-bucket maps (stats_rows_other): a bucket outside the known nine is compared,
    a known name whose value is not a number is not a sample; the same after compaction."""
    rows = []
    for i in range(60):
        r = run(i, "m", NOW - timedelta(days=1 + i % 20, hours=1 + i % 5), 3.0 + i % 4)
        r["wall_time_breakdown"]["upload"] = 2.0 + (i % 3) * (1.5 if i % 20 < 10 else 1.0)
        if i % 6 == 0:
            r["wall_time_breakdown"]["act"] = "slow"
        rows.append(r)
    write_rows(tmp_path, rows)
    opts = Options(min_runs=5)
    before = compare("wf", data_dir=tmp_path, baseline="21d..11d", current="11d", now=NOW,
                     options=opts)
    upload = next(m for m in before.metrics if m.metric == "upload")
    act = next(m for m in before.metrics if m.metric == "act")
    assert (upload.n_baseline, upload.n_current) == (30, 30)
    assert (act.n_baseline, act.n_current) == (25, 25)
    cur = np.array([2.0 + (i % 3) * 1.5 for i in range(60) if i % 20 < 10])
    assert upload.p50.current == float(np.percentile(cur, 50))
    compact(tmp_path, now=NOW, checkpoint_min_bytes=0)
    after = compare("wf", data_dir=tmp_path, baseline="21d..11d", current="11d", now=NOW,
                    options=opts)
    assert after.to_json() == before.to_json()


def test_malformed_lines_are_counted_and_warned_as_stats_warns(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """compare reads what stats reads: the malformed lines it skipped are in the result, its
    JSON and the one warning stats prints, grouped or not, before and after compaction."""
    now = datetime.now(UTC)  # the command's windows end now
    rows = [run(i, "ab"[i % 2], now - timedelta(days=1 + i % 28, hours=i % 5), 10.0 + i % 7)
            for i in range(200)]
    write_rows(tmp_path, rows)
    shard = sorted((tmp_path / "runs_log").glob("*.jsonl"))[-1]
    with open(shard, "ab") as f:
        f.write(b"not json\n{oops\n\x00\x01\n")
    d = ["--data-dir", str(tmp_path)]
    for compacted in (False, True):
        if compacted:
            compact(tmp_path, checkpoint_min_bytes=0)
        code, _, warning = run_cli("runs", "stats", "wf", *d)
        assert code == 0 and warning.startswith("warning: skipped 3 malformed lines (")
        for extra in ([], ["--group-by", "model"]):
            code, out, err = run_cli("runs", "compare", "wf", "--baseline", "30d..10d",
                                     "--current", "10d", *extra, *d)
            assert (code, err) == (0, warning), (extra, compacted)
            code, out, err = run_cli("runs", "compare", "wf", "--baseline", "30d..10d",
                                     "--current", "10d", *extra, *d, "--json")
            assert err == warning
            doc = json.loads(out)
            assert sum(doc["skipped_lines"].values()) == 3
            if extra:
                assert [sum(g["comparison"]["skipped_lines"].values())
                        for g in doc["groups"]] == [3, 3]
    caplog.set_level("WARNING", logger="mantis_runs")
    result = RunStore(tmp_path).compare("wf", baseline="30d..10d", current="10d")
    assert sum(result.skipped_lines.values()) == 3
    assert [r.getMessage() for r in caplog.records] == [warning[len("warning: "):-1]]
