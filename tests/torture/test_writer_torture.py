"""Torture tests of the writer with real processes: concurrency, kill -9 and a really full disk.

Each row is self-checking: it carries its writer, its sequence number and a padding whose length
and character are derived from both, so torn, interleaved, glued, lost and duplicated rows are all
detected by :func:`check_rows`.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mantis_runs.log.writer import SEAL

pytestmark = pytest.mark.slow

MONTH = "2026-05"
FINISHED = "2026-05-13T18:09:34Z"

# A row generator shared by every child (pasted into their source). The padding character and the
# length are both recorded, and the padding is checked against them on read.
_ROW_SRC = f"""
import json, random, sys
from mantis_runs import append_run

def make_row(writer, seq, size):
    pad = chr(ord("a") + (writer * 7 + seq) % 26) * size
    return {{"run_id": f"w{{writer}}-{{seq:06d}}", "workflow_id": "torture",
             "status": "succeeded", "total_time_s": 1.0, "finished_at": {FINISHED!r},
             "writer": writer, "seq": seq, "padlen": size, "pad": pad}}
"""


def expected_pad(writer: int, seq: int, size: int) -> str:
    return chr(ord("a") + (writer * 7 + seq) % 26) * size


def check_row(obj: Any) -> tuple[int, int]:
    """Validate one parsed row; returns (writer, seq)."""
    assert isinstance(obj, dict), obj
    w, s = obj["writer"], obj["seq"]
    assert obj["run_id"] == f"w{w}-{s:06d}"
    assert obj["pad"] == expected_pad(w, s, obj["padlen"]), f"bad padding in {obj['run_id']}"
    assert obj["workflow_id"] == "torture"
    return w, s


def split_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\n"), f"file does not end in a newline: ...{data[-40:]!r}"
    return data[:-1].split(b"\n")


def check_rows(data: bytes) -> tuple[list[tuple[int, int]], list[bytes]]:
    """Every line is one valid row or a sealed torn fragment. Returns (rows, garbage lines)."""
    rows: list[tuple[int, int]] = []
    garbage: list[bytes] = []
    for ln in split_lines(data):
        # A glued line would hold two row starts; a valid line holds exactly one. A row torn
        # within its first bytes (b'{"sc' + seal) holds none: it is only a sealed prefix.
        starts = ln.count(b'{"schema_version"')
        assert starts <= 1, f"glued line: {ln[:120]!r}"
        if starts == 0:
            assert ln.endswith(SEAL[:-1]) and b'{"schema_version"'.startswith(ln[:-1]), (
                f"foreign line: {ln[:120]!r}")
            garbage.append(ln)
            continue
        try:
            obj = json.loads(ln)
        except ValueError:
            # Only torn fragments, each cut off by the writer's seal, may fail to parse.
            assert ln.endswith(SEAL[:-1]), f"unsealed garbage line: ...{ln[-80:]!r}"
            assert SEAL[:-1] not in ln.rstrip(SEAL[:-1]), "seal byte inside a fragment"
            garbage.append(ln)
            continue
        rows.append(check_row(obj))
    return rows, garbage


def test_checker_detects_damage() -> None:
    # Negative controls: the checker must reject what the tests below claim cannot happen.
    good = [json.dumps({"schema_version": 1, "run_id": f"w0-{s:06d}", "workflow_id": "torture",
                        "writer": 0, "seq": s, "padlen": 3, "pad": expected_pad(0, s, 3)},
                       separators=(",", ":")).encode() for s in range(3)]
    assert check_rows(b"\n".join(good) + b"\n")[0] == [(0, 0), (0, 1), (0, 2)]
    with pytest.raises(AssertionError, match="glued"):
        check_rows(good[0][:20] + good[1] + b"\n")
    with pytest.raises(AssertionError, match="unsealed"):
        check_rows(good[0][:20] + b"\n" + good[1] + b"\n")
    with pytest.raises(AssertionError, match="newline"):
        check_rows(good[0] + b"\n" + good[1][:9])
    with pytest.raises(AssertionError, match="padding"):
        check_rows(good[0].replace(b'"aaa"', b'"aab"') + b"\n")
    rows, garbage = check_rows(good[0] + b"\n" + good[1][:30] + SEAL + good[2] + b"\n")
    assert rows == [(0, 0), (0, 2)]
    assert garbage == [good[1][:30] + b"\x1e"]


# --------------------------------------------------------------------------------------------
# a. concurrent writers

_CONCURRENT = _ROW_SRC + """
data_dir, writer, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
sizes = [int(200 * 100 ** rng.random()) for _ in range(count)]  # 200 B .. 20 KB, log-uniform
import time
print("ready", flush=True)  # imported: the parent waits for every writer's before "go"
sys.stdin.readline()  # start barrier
t0 = time.monotonic()  # CLOCK_MONOTONIC is system-wide, so the parent can compare intervals
failed = []
for s in range(count):
    if not append_run(make_row(writer, s, sizes[s]), data_dir):
        failed.append(s)
    # flock is not fair: a writer that lets go and locks again at once can keep the others
    # waiting for its whole run (on 2 vCPUs the four wrote one after the other once in about a
    # dozen CI runs). A short pause gives the waiting writers their turn; appends still overlap.
    time.sleep(0.0002)
t1 = time.monotonic()
print(json.dumps({"failed": failed, "bytes": sum(sizes), "t0": t0, "t1": t1}), flush=True)
"""


@pytest.mark.exclusive  # the writers must overlap in time: nothing else competes for the CPUs
def test_concurrent_writers_never_interleave(tmp_path: Path) -> None:
    n, m = 4, 500
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, str(tmp_path), str(w), str(m),
                               str(1000 + w)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for w in range(n)]
    # A real barrier: every interpreter has imported the writer before any starts (a fixed
    # sleep let a slow import start its writer after the others were done, on a busy machine).
    for p in procs:
        assert p.stdout is not None and p.stdout.readline() == "ready\n"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = []
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0
        reports.append(json.loads(out))
    assert [r["failed"] for r in reports] == [[]] * n

    data = (tmp_path / "runs_log" / f"{MONTH}.jsonl").read_bytes()
    rows, garbage = check_rows(data)
    assert garbage == []
    assert len(rows) == n * m
    assert Counter(rows) == Counter((w, s) for w in range(n) for s in range(m))
    # every writer's rows are in its own order (one writer appends sequentially)
    for w in range(n):
        assert [s for ww, s in rows if ww == w] == list(range(m))
    # The writers really ran at the same time, otherwise this test would prove nothing.
    assert max(r["t0"] for r in reports) < min(r["t1"] for r in reports)
    assert sum(r["bytes"] for r in reports) > 4 * 1024 * 1024
    # ... and their rows alternate in the file (one after the other would give n - 1 switches).
    switches = sum(a[0] != b[0] for a, b in itertools.pairwise(rows))
    assert switches > n - 1, switches


# --------------------------------------------------------------------------------------------
# b. repeated kill -9

# A zygote imports the writer once and forks a fresh writer process per generation, so that
# hundreds of kill/restart cycles fit in a few seconds. Each child appends rows until it is killed
# (or, for the last generation, until ``limit`` rows) and acknowledges a row on stdout, with one
# atomic pipe write, only after append_run returned True. The zygote reports each child's pid and
# then its exit status once it has been reaped, so every ack of a child precedes its "dead" line.
_ZYGOTE = _ROW_SRC + """
import os
data_dir = sys.argv[1]

def child(gen, limit, seed):
    rng = random.Random(seed)
    seq = 0
    while limit < 0 or seq < limit:
        size = rng.randrange(8_000, 60_000)
        if append_run(make_row(gen, seq, size), data_dir):
            os.write(1, f"ack w{gen}-{seq:06d}\\n".encode())
        seq += 1
    os._exit(0)

for cmd in sys.stdin:
    gen, limit, seed = map(int, cmd.split())
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        child(gen, limit, seed)
    os.write(1, f"pid {pid}\\n".encode())  # one write() per message: children share the pipe
    _, status = os.waitpid(pid, 0)
    os.write(1, f"dead {pid} {status}\\n".encode())
"""


@pytest.fixture(params=["tmp_path", "tmpfs"])
def kill_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """pytest's tmp_path (ext4 here), and tmpfs where fsync is free so kills land in write()."""
    if request.param == "tmp_path":
        yield tmp_path
        return
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm tmpfs")
    d = Path(tempfile.mkdtemp(prefix="mantis-kill-", dir="/dev/shm"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


#: kills and the range of a child's lifetime before its SIGKILL, per filesystem: fdatasync costs
#: ~0.1-5 ms per row on ext4 here and nothing on tmpfs.
_KILL_PLAN = {"tmp_path": (100, 0.002, 0.03), "tmpfs": (300, 0.0005, 0.008)}


def test_kill_9_never_loses_an_acknowledged_row(kill_dir: Path, request: pytest.FixtureRequest,
                                                figures: Callable[[str], None]) -> None:
    kills, lo, hi = _KILL_PLAN[request.node.callspec.params["kill_dir"]]
    rng = random.Random(20260513)
    shard = kill_dir / "runs_log" / f"{MONTH}.jsonl"
    acked: list[str] = []
    torn_tails = 0  # kills that left the shard ending in a partial row
    last_size = 0
    zygote = subprocess.Popen([sys.executable, "-c", _ZYGOTE, str(kill_dir)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert zygote.stdin is not None and zygote.stdout is not None
    pid: int | None = None  # the child that has not been reaped yet
    try:
        for gen in range(kills + 1):
            last = gen == kills  # the last generation finishes normally
            zygote.stdin.write(f"{gen} {5 if last else -1} {gen}\n")
            zygote.stdin.flush()
            while True:
                msg = zygote.stdout.readline()
                assert msg, "zygote died"
                kind, _, rest = msg.rstrip("\n").partition(" ")
                if kind == "ack":
                    acked.append(rest)
                elif kind == "pid":
                    pid = int(rest)
                    if not last:
                        time.sleep(rng.uniform(lo, hi))
                        os.kill(pid, signal.SIGKILL)
                elif kind == "dead":
                    dead_pid, status = map(int, rest.split())
                    assert dead_pid == pid
                    pid = None
                    assert status == (0 if last else signal.SIGKILL), status
                    break
            size = shard.stat().st_size if shard.exists() else 0
            if size != last_size and size:  # a new tail (a child killed early leaves the old)
                with open(shard, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    torn_tails += f.read(1) != b"\n"
            last_size = size
    finally:
        if pid is not None:  # a failed assertion left a child running: end it, then the zygote
            os.kill(pid, signal.SIGKILL)
        zygote.stdin.close()
        try:
            zygote.wait(timeout=30)
        except subprocess.TimeoutExpired:
            zygote.kill()
            raise
    assert zygote.returncode == 0

    data = shard.read_bytes()
    rows, garbage = check_rows(data)
    ids = Counter(f"w{w}-{s:06d}" for w, s in rows)
    assert all(c == 1 for c in ids.values()), [k for k, c in ids.items() if c > 1]
    assert len(acked) == len(set(acked))
    missing = [a for a in acked if ids[a] != 1]
    assert missing == []
    assert acked[-5:] == [f"w{kills}-{s:06d}" for s in range(5)]
    # a torn fragment belongs to a row that was never acknowledged
    frag_ids = {m.group(1).decode() for g in garbage
                if (m := re.match(rb'\{"schema_version":1,"run_id":"(w\d+-\d{6})"', g))}
    assert frag_ids.isdisjoint(acked)
    # each torn tail became exactly one sealed garbage line (a torn seal adds no line)
    assert len(garbage) == torn_tails
    figures(f"[kill -9, {request.node.callspec.params['kill_dir']}] kills={kills} "
            f"acked={len(acked)} rows={len(rows)} unacked-but-present={len(rows) - len(acked)} "
            f"torn_tails={torn_tails} bytes={len(data)}")
    shard.unlink()  # tens of MB; pytest keeps the last few tmp dirs


# --------------------------------------------------------------------------------------------
# c. a really full disk (tmpfs of 64 KiB in a user + mount namespace)

_ENOSPC = _ROW_SRC + """
import base64, logging, os
from pathlib import Path
mnt = Path(sys.argv[1])
data_dir = mnt / "data"
warnings = []
class Grab(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())
logging.getLogger("mantis_runs").addHandler(Grab())
filler = mnt / "filler"
filler.write_bytes(b"f" * 8192)  # freed later: the disk is full, then gets space back
ok, failed, first_fail, seq = [], [], None, 0
def attempt(size):
    global seq, first_fail
    run_id = f"w0-{seq:06d}"
    if append_run(make_row(0, seq, size), data_dir):
        ok.append(run_id)
    else:
        failed.append(run_id)
        if first_fail is None:
            first_fail = seq
    seq += 1
while first_fail is None and seq < 10_000:
    attempt(300)
for size in [300] * 5 + [2000, 120, 60, 30, 10, 1, 0] * 2:  # keep going after the first failure
    attempt(size)
failed_while_full = len(failed)
filler.unlink()
for size in [300] * 5:
    attempt(size)
shard = data_dir / "runs_log" / "2026-05.jsonl"
print(json.dumps({"ok": ok, "failed": failed, "first_fail": first_fail, "warnings": warnings,
                  "failed_while_full": failed_while_full,
                  "file": base64.b64encode(shard.read_bytes()).decode(),
                  "statvfs_blocks": os.statvfs(mnt).f_blocks}))
"""


def _userns_available() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    try:
        r = subprocess.run(["unshare", "-Urm", "true"], capture_output=True, timeout=20,
                           check=False)
    except OSError as exc:
        return f"unshare failed: {exc}"
    if r.returncode != 0:
        return f"user namespaces unavailable: {r.stderr.decode(errors='replace').strip()}"
    return None


def run_on_a_64k_tmpfs(tmp_path: Path, source: str) -> dict[str, Any]:
    """Run the Python ``source`` with the mount point of a fresh 64 KiB tmpfs as its argv[1],
    in a user namespace (a really full disk); its stdout, one JSON object. Skips, saying why,
    where user namespaces or the mount are unavailable."""
    reason = _userns_available()
    if reason:
        pytest.skip(reason)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = 'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" -c "$3" "$1"'
    r = subprocess.run(["unshare", "-Urm", "sh", "-c", script, "sh", str(mnt), sys.executable,
                        source], capture_output=True, text=True, timeout=120, check=False)
    if r.returncode != 0 and "mount" in r.stderr and "tmpfs" in r.stderr:
        pytest.skip(f"cannot mount tmpfs in a user namespace: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    found: dict[str, Any] = json.loads(r.stdout)
    return found


def test_real_enospc_leaves_a_clean_file(tmp_path: Path,
                                         figures: Callable[[str], None]) -> None:
    res = run_on_a_64k_tmpfs(tmp_path, _ENOSPC)
    data = base64.b64decode(res["file"])

    assert res["first_fail"] is not None, "the 64 KiB tmpfs never filled up"
    assert 50 < res["first_fail"] < 400  # ~64 KiB of ~600-byte rows
    assert data.endswith(b"\n")
    rows, garbage = check_rows(data)
    assert garbage == []  # every failure was rolled back, nothing needed sealing
    written = [f"w{w}-{s:06d}" for w, s in rows]
    assert written == res["ok"]  # count of lines == count of True, in order, same rows
    assert len(res["failed"]) == res["failed_while_full"] >= 6  # ...and all failed while full
    assert res["ok"][-5:] == [f"w0-{s:06d}" for s in range(res["first_fail"] + 20,
                                                         res["first_fail"] + 25)]
    # one warning per failed row, naming it
    assert len(res["warnings"]) == len(res["failed"])
    for run_id, msg in zip(res["failed"], res["warnings"], strict=True):
        assert run_id in msg
        assert "No space left on device" in msg or "short write" in msg
    assert len(data) <= 64 * 1024 - 4096  # (the filler took two pages, one was given back)
    kinds = Counter("short write" if "short write" in w else "ENOSPC" for w in res["warnings"])
    figures(f"[ENOSPC, 64 KiB tmpfs] first failure at row {res['first_fail']}, "
            f"{len(res['ok'])} rows written, {len(res['failed'])} refused, "
            f"file {len(data)} bytes; failures: {dict(kinds)}")
