"""The events writer: a batch of 100 events against one row, and 8 writers' events per second.

1. **Latency.** In this process, ``append_events`` of ``--batch`` events (default 100, about
   150 bytes each) and ``append_run`` of one typical row are interleaved, one of each per step,
   ``--steps`` times (default 200), so that the host's fsync stalls fall on both alike. A batch is
   one write and one fdatasync, as a row is; the goal is a median at most 2x the row's. The
   row and the batch are built before their clocks start; besides wall time, each call's CPU
   time (this process's) is reported, which the host's fsync stalls do not blur.
2. **Throughput.** ``--writers`` processes (default 8) append batches of ``--batch`` events to one
   data dir, back to back, for ``--seconds`` (default 5), all starting at once; the report gives
   the events per second of all of them together (events acknowledged / the wall time from the
   first start to the last end) and the batches refused (the goal: at least 50,000 events/s).

3. **Ceiling** (``--ceiling``): the same writers doing only the protocol's system calls with
   the bytes of a batch (flock, one write, unlock, fdatasync), then the same plus
   ``prepare_events`` of each batch: what the disk allows, and what serialising costs.

Usage: ``python benchmarks/bench_events_write.py --dir /work/bench-data [--json] [--ceiling]
[--latency-only]`` (the data dirs are made in a temporary directory there, removed at the end;
``--latency-only`` skips the writers, to compare two trees quickly, run after run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mantis_runs.log.writer import append_events, append_run

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_append import _stats, sample_row  # a typical row, and how samples are summed up


def sample_events(step: int, n: int) -> list[dict[str, Any]]:
    """``n`` typical step events of one run (about 150 bytes each once written)."""
    return [{"run_id": f"20260513_180527_{step:08x}", "type": "step_finished",
             "fields": {"step": f"think-{i}", "status": "succeeded", "seconds": 1.234 + i,
                        "worker": "gpu-a100-7"}} for i in range(n)]


def latency(data_dir: Path, steps: int, batch: int) -> dict[str, Any]:
    append_run(sample_row(0), data_dir=data_dir)  # directories, shards and descriptors exist
    append_events(sample_events(0, batch), data_dir=data_dir)
    t_run: list[float] = []
    t_events: list[float] = []
    cpu_run: list[float] = []  # CPU time of the call (this process): what no fsync stall blurs
    cpu_events: list[float] = []
    for i in range(1, steps + 1):
        row, evs = sample_row(i), sample_events(i, batch)
        c0, t0 = time.process_time(), time.perf_counter()
        ok = append_run(row, data_dir=data_dir)
        t_run.append(time.perf_counter() - t0)
        cpu_run.append(time.process_time() - c0)
        c0, t0 = time.process_time(), time.perf_counter()
        ok = append_events(evs, data_dir=data_dir) and ok
        t_events.append(time.perf_counter() - t0)
        cpu_events.append(time.process_time() - c0)
        if not ok:
            raise RuntimeError("an append returned False; see the mantis_runs warning")
    res = {"steps": steps, "batch": batch, "append_run": _stats(t_run),
           f"append_events_{batch}": _stats(t_events), "cpu_append_run": _stats(cpu_run),
           f"cpu_append_events_{batch}": _stats(cpu_events)}
    res["ratio_median"] = (res[f"append_events_{batch}"]["median_ms"]
                           / res["append_run"]["median_ms"])
    res["cpu_ratio_median"] = (res[f"cpu_append_events_{batch}"]["median_ms"]
                               / res["cpu_append_run"]["median_ms"])
    return res


#: One writer process: appends one batch to warm up, says "ready", waits for "go", appends
#: batches until its time is up and prints what it did as JSON.
WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[5])
from bench_events_write import sample_events
from mantis_runs import append_events
data_dir, name, batch, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
append_events(sample_events(0, batch), data_dir)
print("ready", flush=True)
sys.stdin.readline()
events = refused = step = 0
t0 = time.monotonic()  # CLOCK_MONOTONIC is system-wide: the parent compares the intervals
while time.monotonic() - t0 < seconds:
    step += 1
    if append_events(sample_events(step, batch), data_dir):
        events += batch
    else:
        refused += 1
print(json.dumps({"events": events, "refused": refused, "t0": t0, "t1": time.monotonic()}))
"""

#: The protocol's ceiling on this disk (``--ceiling``): a writer process that appends the same
#: bytes as a batch by the bare steps, flock, one write, unlock, fdatasync (mode "bare"), and
#: the same after preparing the batch (``prepare_events``: checks and serialisation, "prepare").
CEILING_WORKER = r"""
import fcntl, json, os, sys, time
from datetime import UTC, datetime
sys.path.insert(0, sys.argv[5])
from bench_events_write import sample_events
from mantis_runs.log.events import prepare_events
data_dir, mode, batch, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
os.makedirs(data_dir, exist_ok=True)
fd = os.open(os.path.join(data_dir, "bare.jsonl"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
lock = os.open(os.path.join(data_dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
data = b"".join(line for _, line in prepare_events(sample_events(0, batch),
                                                   now=datetime.now(UTC)).lines)
print("ready", flush=True)
sys.stdin.readline()
events = step = 0
t0 = time.monotonic()
while time.monotonic() - t0 < seconds:
    step += 1
    if mode == "prepare":
        data = b"".join(line for _, line in prepare_events(sample_events(step, batch),
                                                           now=datetime.now(UTC)).lines)
    fcntl.flock(lock, fcntl.LOCK_EX)
    os.write(fd, data)
    fcntl.flock(lock, fcntl.LOCK_UN)
    os.fdatasync(fd)
    events += batch
print(json.dumps({"events": events, "refused": 0, "t0": t0, "t1": time.monotonic()}))
"""


def throughput(data_dir: Path, writers: int, batch: int, seconds: float, *,
               worker: str = WORKER, mode: str | None = None) -> dict[str, Any]:
    here = str(Path(__file__).resolve().parent)
    procs = [subprocess.Popen([sys.executable, "-c", worker, str(data_dir), mode or f"w{w}",
                               str(batch), str(seconds), here],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for w in range(writers)]
    for p in procs:
        assert p.stdout is not None
        if p.stdout.readline() != "ready\n":
            raise RuntimeError("a writer did not start")
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    reports = [json.loads(p.communicate(timeout=seconds + 120)[0]) for p in procs]
    wall = max(r["t1"] for r in reports) - min(r["t0"] for r in reports)
    events = sum(r["events"] for r in reports)
    return {"writers": writers, "batch": batch, "seconds": seconds, "events": events,
            "refused_batches": sum(r["refused"] for r in reports), "wall_s": wall,
            "events_per_s": events / wall}


def markdown(lat: dict[str, Any], thr: dict[str, Any] | None) -> str:
    b = lat["batch"]
    out = ["| what | median ms | p95 ms | mean ms |", "|---|---:|---:|---:|"]
    for key, label in (("append_run", "`append_run(row)`"),
                       (f"append_events_{b}", f"`append_events` of {b} events")):
        s = lat[key]
        out.append(f"| {label} | {s['median_ms']:.3f} | {s['p95_ms']:.3f} | {s['mean_ms']:.3f} |")
    out += ["", f"{lat['steps']} steps, interleaved; the batch's median is "
            f"{lat['ratio_median']:.2f}x the row's (CPU time of the calls: "
            f"{lat[f'cpu_append_events_{b}']['median_ms']:.3f} ms vs "
            f"{lat['cpu_append_run']['median_ms']:.3f} ms, "
            f"{lat['cpu_ratio_median']:.2f}x)."]
    if thr is None:
        return "\n".join(out)
    out += ["", f"{thr['writers']} writers, batches of {thr['batch']}: {thr['events']} events in "
            f"{thr['wall_s']:.2f} s = {thr['events_per_s']:,.0f} events/s "
            f"({thr['refused_batches']} batches refused)."]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=None,
                    help="where to make the scratch data dirs (the filesystem to measure; "
                         "default: the system's temporary directory)")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--ceiling", action="store_true",
                    help="also the bare protocol's events/s, with and without preparing batches")
    ap.add_argument("--latency-only", action="store_true",
                    help="only the latency part (no writer processes)")
    args = ap.parse_args(argv)
    ceiling: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-events-", dir=args.dir) as scratch:
        lat = latency(Path(scratch) / "latency", args.steps, args.batch)
        if args.latency_only:
            print(json.dumps({"latency": lat}, indent=1) if args.json else
                  markdown(lat, None))
            return 0
        thr = throughput(Path(scratch) / "throughput", args.writers, args.batch, args.seconds)
        for mode in ("bare", "prepare") if args.ceiling else ():
            ceiling[mode] = throughput(Path(scratch) / mode, args.writers, args.batch,
                                       args.seconds, worker=CEILING_WORKER, mode=mode)
    if args.json:
        print(json.dumps({"latency": lat, "throughput": thr, "ceiling": ceiling}, indent=1))
        return 0
    print(markdown(lat, thr))
    for mode, res in ceiling.items():
        print(f"The protocol alone ({mode}: flock, write, unlock, fdatasync"
              f"{', each batch prepared first' if mode == 'prepare' else ''}): "
              f"{res['events_per_s']:,.0f} events/s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
