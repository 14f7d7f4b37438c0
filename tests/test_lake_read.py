"""Reading the lake: `--data-dir s3://...` and several `--data-dir` values on the reading
commands, against a real S3 API (moto's server in a subprocess on 127.0.0.1) and the real
`mantis runs ship`. Every answer over the lake must be the answer over the union of the data
dirs that shipped into it (and the numpy oracle's over every row written), with the copy order
deciding between copies across sources."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from helpers import append_bytes, assert_matches, oracle, run_cli, write_rows
from lake_s3 import SECRET, env, require_lake, s3_server, subprocess_env

require_lake()

START = datetime(2026, 3, 10, tzinfo=UTC)
TOKEN = "FwoGZXIvYXdzEMantisSessionToken0123456789abcdef"


def rows(n: int, prefix: str, start: datetime, step: timedelta = timedelta(hours=11)
         ) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        finished = start + i * step
        out.append({
            "run_id": f"{prefix}-{i:04d}", "workflow_id": f"wf-{i % 3}",
            "status": "failed" if i % 5 == 0 else "succeeded",
            "total_time_s": 2.0 + (i * 7919 % 113) / 4,
            "finished_at": finished.isoformat(),
            "created_at": (finished - timedelta(seconds=9)).isoformat(),
            "wall_time_breakdown": {"think": 0.5 + i % 4, "act": (i * 31 % 17) / 8,
                                    "custom_step": 0.25},
            "cost_breakdown": {"tokens": float(i)}, "model": f"m{i % 2}", "tenant_id": "t"})
    return out


def later(row: dict[str, Any], days: float, **changes: Any) -> dict[str, Any]:
    """Another copy of ``row``, finished ``days`` later (earlier when negative)."""
    finished = datetime.fromisoformat(row["finished_at"]) + timedelta(days=days)
    return {**row, "finished_at": finished.isoformat(), **changes}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as ep:
        yield ep


@pytest.fixture(scope="module")
def lake(endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two data dirs shipped into one new table, with hostile copies across them (a later
    copy that wins, an earlier one that loses, a winning copy under another workflow), bad
    lines, one month compacted; and a third data dir that never shipped."""
    mp = pytest.MonkeyPatch()
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        mp.delenv(key)
    for key, value in env(endpoint).items():
        mp.setenv(key, value)
    mp.delenv("MANTIS_HOST_ID", raising=False)
    root = tmp_path_factory.mktemp("lake-read")
    a, b, c = root / "a", root / "b", root / "c"
    ra = rows(150, "a", START)
    rb = rows(100, "b", START + timedelta(days=20))
    rb += [later(ra[3], 60, total_time_s=99.0), later(ra[10], -3, total_time_s=0.1),
           later(ra[21], 50, workflow_id="wf-9"), later(ra[4], 0, total_time_s=ra[4][
               "total_time_s"] + 1)]  # same finished_at: the larger total wins
    rc = [later(rb[5], 90, total_time_s=55.0), later(ra[30], -1, total_time_s=0.2),
          *rows(30, "c", START + timedelta(days=75))]
    write_rows(a, ra)
    write_rows(b, rb)
    write_rows(c, rc)
    append_bytes(a / "runs_log" / "2026-03.jsonl", b'{"run_id": "torn", "workflow_id": \n')
    assert run_cli("runs", "compact", "--month", "2026-03", "--data-dir", str(a)).code == 0
    uri = f"s3://lake/read-{uuid.uuid4().hex[:10]}"
    assert run_cli("runs", "lake", "init", uri).code == 0
    for d in (a, b):
        code, _, err = run_cli("runs", "ship", "--to", uri, "--data-dir", str(d))
        assert code == 0, err
    yield {"uri": uri, "a": a, "b": b, "c": c, "rows_ab": ra + rb, "rows_abc": ra + rb + rc}
    mp.undo()


def _source(uri: str) -> Any:
    from mantis_runs.lake.read import open_source
    from mantis_runs.lake.storage import target

    return open_source(target(uri))


FLAGS: list[dict[str, Any]] = [
    {}, {"last": 7}, {"status": "failed", "since": START + timedelta(days=40)},
    {"buckets": ["act"], "last": 25}, {"last": 10**6, "status": None},
]


@pytest.mark.slow
def test_stats_over_the_lake_is_stats_over_the_shipped_dirs(lake: dict[str, Any]) -> None:
    from mantis_runs.stats import stats

    src = _source(lake["uri"])
    assert {m.month for m in src.months} == {"2026-03", "2026-04", "2026-05"}
    for flags in FLAGS:
        for wf in ("wf-0", "wf-9"):
            over_lake = stats(wf, data_dir=src, **flags).to_json()
            over_dirs = stats(wf, data_dir=[lake["a"], lake["b"]], **flags).to_json()
            assert over_lake == {**over_dirs, "skipped_lines": {}}, (wf, flags)
            kwargs = {k: v for k, v in flags.items() if k in ("last", "status", "since",
                                                              "buckets")}
            assert_matches(over_lake, oracle(lake["rows_ab"], wf, **kwargs))
    assert over_dirs["skipped_lines"] == {}  # the torn line was compacted into quarantine


def test_a_remote_table_is_read_from_copies_of_the_months_asked_for(
        lake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On S3, DuckDB reads copies of the data files (lake/fetch.py), fetched month by month
    as the planner asks: the newest runs fetch the newest month alone. Every answer is the
    Arrow dataset's (the general reader), whole histories included. The copies are kept in the
    user cache folder (lake/copies.py): a later source of the same table reads them without
    asking the store."""
    from dataclasses import replace

    from mantis_runs.lake.copies import KIND
    from mantis_runs.lake.storage import target
    from mantis_runs.stats import stats

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    src = _source(lake["uri"])
    assert src.fetch is not None and src.files is None
    got = stats("wf-0", data_dir=src, last=7).to_json()
    assert set(src.fetch([])) == {"2026-05"}
    assert got == stats("wf-0", data_dir=replace(src, fetch=None), last=7).to_json()
    for flags in FLAGS[2:]:
        fresh = _source(lake["uri"])
        assert stats("wf-0", data_dir=fresh, **flags).to_json() == stats(
            "wf-0", data_dir=replace(fresh, fetch=None), **flags).to_json(), flags
    kept = [p for p in (tmp_path / "mantis" / KIND).rglob("*.parquet")]
    assert len(kept) == sum(len(v) for v in fresh.fetch([]).values())
    assert {str(p) for p in kept} == {p for v in fresh.fetch([]).values() for p in v}
    # the store gone: a new source of the same table answers from the kept copies alone
    gone = _source(lake["uri"])
    options = {**target(lake["uri"]).options, "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
               "max_retries": "0", "retry_timeout": "1s"}
    from deltalake._internal import DeltaFileSystemHandler

    gone.fetch._store = DeltaFileSystemHandler(lake["uri"], options)  # type: ignore[union-attr]
    assert stats("wf-0", data_dir=gone, **FLAGS[4]).to_json() == stats(
        "wf-0", data_dir=replace(fresh, fetch=None), **FLAGS[4]).to_json()


def test_a_copy_that_fails_is_one_line_without_credentials(
        lake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store goes away between opening the table and fetching a month's files (none kept
    yet): the read fails with the lake's one line, never a traceback or a credential."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from deltalake._internal import DeltaFileSystemHandler

    from mantis_runs.errors import MantisError
    from mantis_runs.lake.storage import target
    from mantis_runs.stats import stats

    src = _source(lake["uri"])
    options = {**target(lake["uri"]).options, "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
               "max_retries": "0", "retry_timeout": "1s"}
    src.fetch._store = DeltaFileSystemHandler(lake["uri"], options)  # type: ignore[union-attr]
    with pytest.raises(MantisError) as raised:
        stats("wf-0", data_dir=src, last=7)
    text = str(raised.value)
    assert text.startswith(f"cannot read the lake table {lake['uri']}: ") and "\n" not in text
    assert SECRET not in text and src.fetch([]) == {}, text


def test_copies_that_would_not_fit_leave_the_read_to_the_dataset(
        lake: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Copies never take more than half of the free space where they go: without room (and
    none kept), the read scans the Arrow dataset, with the same answers, and copies nothing."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from collections import namedtuple
    from dataclasses import replace

    from mantis_runs.stats import stats

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda path: usage(10**9, 10**9, 1000))
    for flags in ({"last": 7}, FLAGS[4]):
        src = _source(lake["uri"])
        assert src.fetch is not None
        got = stats("wf-0", data_dir=src, **flags).to_json()
        assert src.fetch([]) == {}
        assert got == stats("wf-0", data_dir=replace(src, fetch=None), **flags).to_json()


def test_the_copy_order_decides_between_the_lake_and_a_local_dir(lake: dict[str, Any]) -> None:
    from mantis_runs import RunStore
    from mantis_runs.stats import grouped_stats, stats

    src = _source(lake["uri"])
    everything = [lake["c"], src]
    for flags in FLAGS[:4]:
        for wf in ("wf-2",):
            merged = stats(wf, data_dir=everything, **flags).to_json()
            kwargs = {k: v for k, v in flags.items() if k != "ci"}
            assert_matches(merged, oracle(lake["rows_abc"], wf, **kwargs))
            assert merged == stats(wf, data_dir=[lake["a"], lake["b"], lake["c"]],
                                   **flags).to_json()
    # after compacting the local dir: the same answers (its copies now in Parquet parts)
    assert run_cli("runs", "compact", "--data-dir", str(lake["c"])).code == 0
    for flags in FLAGS[:2]:
        assert_matches(stats("wf-2", data_dir=everything, **flags).to_json(),
                       oracle(lake["rows_abc"], "wf-2", **flags))
    grouped = grouped_stats("wf-1", "model", data_dir=everything, last=60, ci=True).to_json()
    assert grouped == grouped_stats("wf-1", "model", data_dir=[
        lake["a"], lake["b"], lake["c"]], last=60, ci=True).to_json()
    store = RunStore(everything)
    won = store.get("b-0005")
    assert won is not None and won["total_time_s"] == 55.0  # c's later copy beats the lake's
    kept = store.get("a-0030")
    assert kept is not None and kept["total_time_s"] != 0.2  # c's earlier copy loses
    moved = store.get("a-0021")
    assert moved is not None and moved["workflow_id"] == "wf-9"
    assert store.get("a-0004")["total_time_s"] == lake["rows_ab"][4]["total_time_s"] + 1  # type: ignore[index]


def _dirs(*values: Any) -> list[str]:
    return [x for v in values for x in ("--data-dir", str(v))]


@pytest.mark.parametrize("args", [
    ("stats", "wf-0", "--json", "--status", "", "--last", "30"),
    ("stats", "wf-2", "--group-by", "model", "--ci"),
    ("list", "--last", "12"),
    ("list", "wf-9"),
    ("show", "a-0003", "--json"),
    ("report", "--run-id", "b-0040", "--format", "json"),
    ("sql", "SELECT workflow_id, count(*) AS n, count(DISTINCT run_id) AS ids, "
            "round(sum(total_time_s), 6) AS s FROM runs GROUP BY ALL ORDER BY 1"),
    ("sql", "SELECT bucket, count(*) FROM run_buckets GROUP BY 1 ORDER BY 1"),
    ("compare", "wf-0", "--baseline", "2026-03-10..2026-04-20", "--current",
     "2026-04-20..2026-07-01", "--json"),
    ("failures", "--since", "2026-03-01", "--json"),
    ("failures", "wf-9", "--since", "2026-03-01", "--json"),
    ("watch", "a-0003", "--timeout", "5"),
])
def test_every_reading_command_over_the_lake_answers_as_over_the_dirs(
        lake: dict[str, Any], args: tuple[str, ...]) -> None:
    over_lake = run_cli("runs", *args, *_dirs(lake["uri"]))
    over_dirs = run_cli("runs", *args, *_dirs(lake["a"], lake["b"]))
    assert over_lake.code == over_dirs.code == 0, (over_lake.err, over_dirs.err)
    assert over_lake.out == over_dirs.out
    assert SECRET not in over_lake.out + over_lake.err


def test_the_runs_view_holds_every_run_once(lake: dict[str, Any]) -> None:
    ids = {r["run_id"] for r in lake["rows_abc"]}
    q = "SELECT count(*) AS n, count(DISTINCT run_id) AS ids FROM runs"
    r = run_cli("runs", "sql", "--format", "json", q, *_dirs(lake["c"], lake["uri"]))
    assert r.code == 0, r.err
    assert json.loads(r.out) == [{"n": len(ids), "ids": len(ids)}]


def _failing_read(*args: str, endpoint: str, **extra: str) -> subprocess.CompletedProcess[str]:
    e = subprocess_env(endpoint, AWS_SESSION_TOKEN=TOKEN, **extra)
    return subprocess.run([sys.executable, "-m", "mantis_runs", "runs", *args],
                          capture_output=True, text=True, timeout=120, env=e, check=False)


def test_a_failing_read_is_one_line_without_credentials(lake: dict[str, Any],
                                                        endpoint: str) -> None:
    uri = lake["uri"]
    closed = "http://127.0.0.1:9"  # discard: nothing listens
    cases = [
        (("stats", "wf-0", "--data-dir", uri), closed, "(is http://127.0.0.1:9 reachable?)"),
        (("list", "--data-dir", str(lake["c"]), "--data-dir", uri), closed, "reachable?"),
        (("stats", "wf-0", "--data-dir", "s3://no-such-bucket/runs"), endpoint, "no-such-bucket"),
        (("sql", "SELECT 1", "--data-dir", uri + "-missing"), endpoint, "no lake table at"),
        # --endpoint before the variables: the server the variables name is not asked
        (("stats", "wf-0", "--data-dir", uri, "--endpoint", closed), endpoint, "reachable?"),
    ]
    for args, ep, says in cases:
        done = _failing_read(*args, endpoint=ep)
        assert done.returncode == 1, done.stderr
        assert done.stdout == ""
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], lines
        for secret in (SECRET, TOKEN):
            assert secret not in done.stdout + done.stderr


def _spark() -> Any:
    """A local Spark session, or a skip saying what is missing."""
    import shutil

    pytest.importorskip("pyspark", reason="the Spark check needs pyspark (pip install pyspark)")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("the Spark check needs Java 17 (java on PATH or JAVA_HOME)")
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master("local[1]").appName("mantis-lake-read")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
            .getOrCreate())


@pytest.mark.slow
def test_spark_reads_a_local_copy_and_gets_the_same_p95(tmp_path: Path) -> None:
    """Spark cannot fetch the delta-spark jar here: it reads the files of the table's current
    version as the Delta log lists them, as plain Parquet, and ranks copies by the copy order."""
    spark = _spark()
    from deltalake import DeltaTable

    from mantis_runs.stats import stats

    d, table = tmp_path / "data", tmp_path / "table"
    ra = rows(120, "s", START)
    write_rows(d, [*ra, later(ra[7], 30, total_time_s=250.0), later(ra[8], -2)])
    assert run_cli("runs", "compact", "--month", "2026-03", "--data-dir", str(d)).code == 0
    assert run_cli("runs", "lake", "init", str(table)).code == 0
    assert run_cli("runs", "ship", "--to", str(table), "--data-dir", str(d)).code == 0
    ours = stats("wf-1", data_dir=_source(f"file://{table}"), last=10**6)
    try:
        runs = spark.read.parquet(*DeltaTable(str(table)).file_uris())
        runs.createOrReplaceTempView("runs_raw")
        (p95, n), = spark.sql("""
            SELECT percentile(total_time_s, 0.95), count(*)
            FROM (SELECT *, row_number() OVER (PARTITION BY run_id
                  ORDER BY finished_at DESC NULLS LAST, total_time_s DESC NULLS LAST,
                           status DESC NULLS LAST, workflow_id DESC NULLS LAST) AS k
                  FROM runs_raw)
            WHERE k = 1 AND status = 'succeeded' AND workflow_id = 'wf-1'""").collect()
    finally:
        spark.stop()
    assert n == ours.run_count == 32
    assert ours.total.p95 == pytest.approx(p95, rel=1e-12)


def test_a_plain_http_endpoint_needs_allow_http(lake: dict[str, Any], endpoint: str) -> None:
    done = _failing_read("list", "--data-dir", lake["uri"], endpoint=endpoint,
                         AWS_ALLOW_HTTP="false")
    assert done.returncode == 2 and "AWS_ALLOW_HTTP=true" in done.stderr, done.stderr
    done = _failing_read("list", "--last", "1", "--data-dir", lake["uri"], "--allow-http",
                         endpoint=endpoint, AWS_ALLOW_HTTP="false")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") >= 2 and SECRET not in done.stdout + done.stderr
