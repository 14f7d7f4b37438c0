"""Generate realistic mantis run logs: ``<out>/runs_log/<YYYY-MM>.jsonl``.

Rows are byte-for-byte what :func:`mantis_runs.log.record.prepare` would write for them.
``prepare`` is
too slow for millions of rows (about 37 µs a row), so this script renders lines with a template and
checks them against ``prepare`` on a sample of every shard (``--verify-every``; 1 checks all rows).

What the data looks like (all of it reproducible with ``--seed``):

* 8 workflows of 5 tenants with skewed popularity (the busiest takes 30 % of the runs), a few
  profiles per tenant, 4 models, plan signatures that change over time;
* ``finished_at`` uniform over ``--months`` months ending with the month of ``--end`` (that month is
  partial, up to the end of ``--end`` or now, whichever is earlier), with traffic growing ~3 % a
  month; shards are written in ``finished_at`` order, as the writer appends them; 10 % of the
  timestamps have microseconds (a runtime that passes datetimes), the rest whole seconds;
* the nine wall-time buckets with lognormal seconds and a per-workflow profile; ``claude_extract``,
  ``settle``, ``claude_ground``, ``load``, ``act`` and ``claude_verify`` are missing from some runs;
  the busiest workflow's ``claude_extract`` regresses by 40 % in the last three weeks;
* ``total_time_s`` = sum of the buckets + exponential overhead noise; 4 % of the runs come from a
  runtime that records whole seconds (JSON ints);
* about 7 % failed runs (4-12 % by workflow) that stop part-way, with an error text (one-liners and
  Python tracebacks, some non-ASCII);
* ``cost_breakdown`` with 2-3 items, ``steps_executed``, ``viable``; rows of the newest runtime
  (the last quarter of the range) carry an extra key, ``runtime_version``, which the schema allows:
  a field that appears late, as new fields do.

``--malformed F`` inserts, before a fraction F of the rows, one of: a torn row followed by the
writer's seal (``b"\\x1e\\n"``), a run of NUL bytes followed by the seal, a garbage line (invalid
UTF-8, non-object JSON, two glued objects, text) or a blank line; the newest shard then also ends
in a torn row without a newline (a write in progress). Rows are never replaced: ``--rows`` good rows
are always written.

Example: ``python benchmarks/gen_logs.py --out /work/bench-data/1m --rows 1000000 --months 13``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from mantis_runs.log.layout import live_shard, month_of, runs_log_dir
from mantis_runs.log.record import prepare
from mantis_runs.log.schema import KNOWN_BUCKETS
from mantis_runs.log.writer import SEAL

US = 1_000_000

# --- the shape of the data ---------------------------------------------------------------------


@dataclass(frozen=True)
class Workflow:
    workflow_id: str
    tenant: str
    weight: float
    scale: float  # multiplies every bucket's median
    steps: float  # mean steps_executed of a successful run
    p_extract: float  # probability that claude_extract is present
    p_verify: float  # probability that claude_verify is present
    p_fail: float
    model: str  # main model; 15 % of the runs use another one


WORKFLOWS: tuple[Workflow, ...] = (
    Workflow("default__marketplace-listings-v1", "default", 0.30, 1.0, 12, 0.95, 0.60, 0.07,
             "Hcompany/Holo3-35B-A3B"),
    Workflow("acme__invoice-extract-v3", "acme", 0.20, 0.6, 8, 1.00, 0.85, 0.05,
             "Hcompany/Holo3-35B-A3B"),
    Workflow("default__price-watch-v2", "default", 0.14, 0.4, 6, 0.70, 0.20, 0.04,
             "Hcompany/Holo2-8B"),
    Workflow("globex__crm-sync-v1", "globex", 0.11, 1.4, 18, 0.90, 0.50, 0.09,
             "Hcompany/Holo3-35B-A3B"),
    Workflow("acme__vendor-onboarding-v2", "acme", 0.09, 2.0, 25, 0.95, 0.75, 0.12,
             "Qwen/Qwen2.5-VL-72B-Instruct"),
    Workflow("initech__expense-audit-v1", "initech", 0.07, 0.8, 10, 0.85, 0.90, 0.06,
             "Hcompany/Holo2-8B"),
    Workflow("globex__lead-enrich-v4", "globex", 0.05, 0.5, 7, 0.60, 0.30, 0.08,
             "Hcompany/Holo3-35B-A3B"),
    Workflow("umbrella__compliance-check-v1", "umbrella", 0.04, 1.2, 15, 0.00, 0.95, 0.10,
             "Qwen/Qwen2.5-VL-72B-Instruct"),
)
MODELS = ("Hcompany/Holo3-35B-A3B", "Hcompany/Holo2-8B", "Qwen/Qwen2.5-VL-72B-Instruct",
          "openai/gpt-4.1-mini")
PROFILES: dict[str, tuple[str, ...]] = {
    "default": ("default__alice-prod", "default__bob-prod", "default__ci-nightly"),
    "acme": ("acme__ops-prod", "acme__ops-eu", "acme__qa"),
    "globex": ("globex__sales-prod", "globex__sales-staging"),
    "initech": ("initech__finance-prod", "initech__finance-dev"),
    "umbrella": ("umbrella__risk-prod",),
}
PROFILE_WEIGHTS = (0.7, 0.2, 0.1)
RUNTIME_VERSIONS = (None, None, None, "0.14.2")  # by quarter of the range; None: key absent
PLAN_VERSIONS = 4

BUCKETS = KNOWN_BUCKETS  # think, claude_extract, settle, claude_ground, perceive, load, act,
#                          claude_verify, overhead: the medians and spread of the seed's table
BUCKET_MEDIAN = np.array([92.0, 67.0, 28.0, 18.0, 11.0, 10.0, 6.0, 4.0, 2.0])
BUCKET_SIGMA = np.array([0.33, 0.38, 0.28, 0.36, 0.30, 0.45, 0.28, 0.35, 0.45])
# probability that a bucket is present in a successful run (None: per workflow)
BUCKET_PRESENT: tuple[float | None, ...] = (1.0, None, 0.93, 0.85, 1.0, 0.97, 0.99, None, 1.0)
INT_ROWS = 0.04  # runs whose runtime records whole seconds
MICRO_ROWS = 0.10  # runs whose timestamps carry microseconds
MONTHLY_GROWTH = 1.03
REGRESSION = (0, 1, 1.4, 21)  # workflow 0, bucket 1 (claude_extract), x1.4, last 21 days

SELECTORS = ("button#submit", "input[name='q']", "div.listing-card:nth-child(3) a",
             "#checkout >> text=Continue", "role=button[name='Suivant']",
             "table.invoices tr:has-text('Échéance')")
ACTIONS = ("click", "type", "scroll", "wait_for", "extract", "navigate")
ERRORS_ONE_LINE = (
    "TimeoutError: step {step} ({action}) exceeded {secs}s waiting for selector \"{sel}\"",
    "PlanExecutionError: element not found: {sel} after {retries} retries",
    "anthropic.RateLimitError: Error code: 429 - {{'type': 'error', 'error': {{'type': "
    "'rate_limit_error', 'message': 'Number of request tokens has exceeded your per-minute rate "
    "limit'}}}}",
    "VerificationFailed: claude_verify rejected step {step}: expected 'Order confirmed', page "
    "shows “Paiement refusé — veuillez réessayer”",
    "BrowserCrashed: Target page, context or browser has been closed (pid {pid}, signal 11)",
)
TRACEBACK = (
    "Traceback (most recent call last):\n"
    "  File \"/app/mantis/runtime/executor.py\", line 412, in run_step\n"
    "    result = await self._act(step, timeout=self.step_timeout)\n"
    "  File \"/app/mantis/runtime/actions.py\", line 188, in _act\n"
    "    await locator.{action}(timeout={ms})\n"
    "  File \"/usr/local/lib/python3.11/site-packages/playwright/async_api/_generated.py\", "
    "line 15542, in {action}\n"
    "    await self._impl_obj.{action}(timeout=timeout, force=force)\n"
    "  File \"/usr/local/lib/python3.11/site-packages/playwright/_impl/_locator.py\", "
    "line 156, in {action}\n"
    "    return await self._frame.{action}(self._selector, strict=True, **params)\n"
    "playwright._impl._errors.TimeoutError: Locator.{action}: Timeout {ms}ms exceeded.\n"
    "Call log:\n"
    "  - waiting for locator(\"{sel}\")\n"
    "  - locator resolved to {n} elements; retrying {action} action\n"
    "  -   waiting for element to be visible, enabled and stable\n"
    "\n"
    "During handling of the above exception, step {step} of plan {plan} was marked failed."
)


def _hex(text: str, n: int = 12) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def _jstr(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


# --- rendering: the fast template and the oracle -----------------------------------------------

# One generated row as plain values; ``render`` and ``as_dict`` must agree (checked by prepare).
Values = tuple[Any, ...]
_KEYS = tuple(f'"{b}":' for b in BUCKETS)
_COST_NAMES = ("llm_usd", "gpu_usd", "storage_usd")
_COST_KEYS = tuple(f'"{c}":' for c in _COST_NAMES)


def render(v: Values) -> str:
    (run_id, tenant, profile, wf, sig, model, status, created, finished, total, buckets, costs,
     steps, viable, error, runtime) = v
    wtb = ",".join([k + repr(x) for k, x in zip(_KEYS, buckets, strict=True) if x is not None])
    cost = ",".join([k + repr(x) for k, x in zip(_COST_KEYS, costs, strict=False)])
    err = "null" if error is None else _jstr(error)
    extra = "" if runtime is None else f',"runtime_version":"{runtime}"'
    return (f'{{"schema_version":1,"run_id":"{run_id}","tenant_id":"{tenant}",'
            f'"profile_id":"{profile}","workflow_id":"{wf}","plan_signature":"{sig}",'
            f'"model":"{model}","status":"{status}","created_at":"{created}",'
            f'"finished_at":"{finished}","total_time_s":{total!r},'
            f'"wall_time_breakdown":{{{wtb}}},"cost_breakdown":{{{cost}}},'
            f'"steps_executed":{steps},"viable":{viable},"error":{err}'
            f'{extra}}}\n')


def as_dict(v: Values) -> dict[str, Any]:
    """The row a runtime would hand to ``append_run`` (keys in no particular order)."""
    (run_id, tenant, profile, wf, sig, model, status, created, finished, total, buckets, costs,
     steps, viable, error, runtime) = v
    extra = {} if runtime is None else {"runtime_version": runtime}
    return {
        **extra,
        "workflow_id": wf, "status": status, "run_id": run_id, "tenant_id": tenant,
        "profile_id": profile, "plan_signature": sig, "model": model,
        "created_at": created, "finished_at": finished, "total_time_s": total,
        "wall_time_breakdown": {b: x for b, x in zip(BUCKETS, buckets, strict=True)
                                if x is not None},
        "cost_breakdown": dict(zip(_COST_NAMES, costs, strict=False)),
        "steps_executed": steps, "viable": viable, "error": error,
    }


def check_against_prepare(v: Values, line: str) -> None:
    expected = prepare(as_dict(v), now=datetime.now(UTC)).line
    if expected != line.encode("utf-8"):
        raise AssertionError(f"fast renderer disagrees with prepare():\n  {expected!r}\n"
                             f"  {line.encode('utf-8')!r}")


# --- generation of one month -------------------------------------------------------------------


@dataclass(frozen=True)
class MonthJob:
    month: str
    rows: int
    start_us: int  # epoch µs, inclusive
    stop_us: int  # epoch µs, exclusive
    range_start_us: int  # of the whole data set (plan versions, regression window)
    range_stop_us: int
    seed: int
    index: int
    path: str
    malformed: float
    newest: bool
    verify_every: int


def _timestamps(us: np.ndarray) -> list[str]:
    """Canonical text of epoch µs, as ``format_timestamp`` writes it."""
    text = np.datetime_as_string(us.astype("datetime64[us]"), unit="us")
    return [t[:-7] + "Z" if t.endswith(".000000") else t + "Z" for t in text.tolist()]


def generate_month(job: MonthJob) -> dict[str, Any]:
    t0 = time.perf_counter()
    rng = np.random.default_rng([job.seed, job.index])
    n = job.rows
    nb = len(BUCKETS)

    # when: sorted uniform instants; 90 % of them on whole seconds
    fin = np.sort(rng.integers(job.start_us, job.stop_us, n))
    micro = rng.random(n) < MICRO_ROWS
    fin = np.where(micro, fin, fin - fin % US)
    fin = np.where(micro & (fin % US == 0), fin + 1, fin)
    fin.sort()

    # who
    weights = np.array([w.weight for w in WORKFLOWS])
    wfi = rng.choice(len(WORKFLOWS), n, p=weights / weights.sum())
    p_fail = np.array([w.p_fail for w in WORKFLOWS])[wfi]
    failed = rng.random(n) < p_fail
    int_rows = rng.random(n) < INT_ROWS

    # wall-time buckets: per-workflow profile x lognormal noise
    profile = np.empty((len(WORKFLOWS), nb))
    for i, w in enumerate(WORKFLOWS):
        wrng = np.random.default_rng(int(_hex(w.workflow_id, 8), 16))
        profile[i] = BUCKET_MEDIAN * w.scale * np.exp(wrng.normal(0.0, 0.3, nb))
    secs = profile[wfi] * np.exp(rng.normal(0.0, 1.0, (n, nb)) * BUCKET_SIGMA)
    stall = rng.random((n, nb)) < 0.01  # occasional stalls make a heavier tail
    secs = np.where(stall, secs * rng.uniform(2.0, 5.0, (n, nb)), secs)
    wf_r, b_r, factor, days = REGRESSION
    reg = (wfi == wf_r) & (fin >= job.range_stop_us - days * 86400 * US)
    secs[reg, b_r] *= factor

    present = np.empty((n, nb), dtype=bool)
    for j, p in enumerate(BUCKET_PRESENT):
        if p is None:
            attr = "p_extract" if BUCKETS[j] == "claude_extract" else "p_verify"
            p_arr = np.array([getattr(w, attr) for w in WORKFLOWS])[wfi]
        else:
            p_arr = np.full(n, p)
        present[:, j] = rng.random(n) < p_arr

    # failed runs stop part-way: less time in every bucket, later buckets often missing
    reached = rng.uniform(0.05, 1.0, n)
    secs = np.where(failed[:, None], secs * reached[:, None], secs)
    dropped = rng.random((n, nb)) < (1.0 - reached)[:, None] * 0.6
    present &= ~(failed[:, None] & dropped)
    present[:, BUCKETS.index("overhead")] = True
    present[:, BUCKETS.index("think")] = True

    secs = np.round(secs, 2)
    secs_int = np.rint(secs)
    vals = np.where(present, secs, 0.0)
    noise = np.round(rng.exponential(0.8, n), 2)
    total = np.round(vals.sum(axis=1) + noise, 2)
    total_int = np.rint(np.where(present, secs_int, 0.0).sum(axis=1) + noise)

    # created_at: queueing before the run, then the run itself
    queue = (rng.exponential(3.0, n) * US).astype(np.int64)
    created = fin - (total * US).astype(np.int64) - queue
    created = np.where(micro, created, created - created % US)
    created_txt = _timestamps(created)
    finished_txt = _timestamps(fin)

    models = np.array([MODELS.index(w.model) for w in WORKFLOWS])[wfi]
    other_model = rng.random(n) < 0.15
    models = np.where(other_model, rng.integers(0, len(MODELS), n), models)
    prof_pick = rng.choice(3, n, p=PROFILE_WEIGHTS)
    frac = (fin - job.range_start_us) / max(1, job.range_stop_us - job.range_start_us)
    plan_v = np.clip((frac * PLAN_VERSIONS).astype(int) - (rng.random(n) < 0.1), 0,
                     PLAN_VERSIONS - 1)
    steps_mean = np.array([w.steps for w in WORKFLOWS])[wfi]
    steps = rng.poisson(np.where(failed, steps_mean * reached, steps_mean)) + 1
    viable = rng.integers(0, 6, n)
    llm = np.round(rng.lognormal(-4.3, 0.5, n), 6)
    gpu = np.round(total * 0.00021, 6)
    storage = rng.random(n) < 0.3
    hexes = rng.integers(0, 1 << 32, n)
    runtime_v = np.clip((frac * len(RUNTIME_VERSIONS)).astype(int), 0, len(RUNTIME_VERSIONS) - 1)
    err_kind = rng.integers(0, len(ERRORS_ONE_LINE) + 2, n)  # 2/7 of failures: tracebacks
    err_a = rng.integers(1, 40, n)
    err_b = rng.integers(0, 1 << 16, n)

    signatures = [[_hex(f"{w.workflow_id}/plan/{k}") for k in range(PLAN_VERSIONS)]
                  for w in WORKFLOWS]
    profiles = [PROFILES[w.tenant] for w in WORKFLOWS]

    lines: list[str] = []
    checked = 0
    cols = (wfi.tolist(), failed.tolist(), int_rows.tolist(), secs.tolist(), secs_int.tolist(),
            present.tolist(), total.tolist(), total_int.tolist(), created_txt, finished_txt,
            models.tolist(), prof_pick.tolist(), plan_v.tolist(), steps.tolist(),
            viable.tolist(), llm.tolist(), gpu.tolist(), storage.tolist(),
            hexes.tolist(), runtime_v.tolist(),
            err_kind.tolist(), err_a.tolist(), err_b.tolist())
    for i, (w, fl, ir, sc, sci, pr, tt, tti, cr, fi, mo, pp, pv, st, vi, li, gp, sto,
            hx, rv, ek, ea, eb) in enumerate(zip(*cols, strict=True)):
        wf = WORKFLOWS[w]
        prof = profiles[w]
        if ir:
            buckets = [int(x) if p else None for x, p in zip(sci, pr, strict=True)]
            tot: float | int = int(tti)
        else:
            buckets = [x if p else None for x, p in zip(sc, pr, strict=True)]
            tot = tt
        costs = (li, gp, 0.0004) if sto else (li, gp)
        error = _error_text(ek, ea, eb, wf, signatures[w][pv]) if fl else None
        v = (cr[0:4] + cr[5:7] + cr[8:10] + "_" + cr[11:13] + cr[14:16] + cr[17:19]
             + f"_{hx:08x}",
             wf.tenant, prof[pp % len(prof)], wf.workflow_id, signatures[w][pv], MODELS[mo],
             "failed" if fl else "succeeded", cr, fi, tot, buckets, costs, st, vi, error,
             RUNTIME_VERSIONS[rv])
        line = render(v)
        if job.verify_every and (i % job.verify_every == 0 or (fl and checked < 50)):
            check_against_prepare(v, line)
            checked += 1
        lines.append(line)

    data = "".join(lines).encode("utf-8")
    bad = 0
    if job.malformed > 0:
        data, bad = _inject(data, lines, rng, job.malformed, job.newest)
    path = Path(job.path)
    with open(path, "wb") as f:
        f.write(data)
    return {"month": job.month, "rows": n, "bad": bad, "bytes": len(data),
            "seconds": time.perf_counter() - t0,
            "per_workflow": np.bincount(wfi, minlength=len(WORKFLOWS)).tolist()}


def _error_text(kind: int, a: int, b: int, wf: Workflow, plan: str) -> str:
    sel = SELECTORS[b % len(SELECTORS)]
    action = ACTIONS[a % len(ACTIONS)]
    if kind < len(ERRORS_ONE_LINE):
        return ERRORS_ONE_LINE[kind].format(step=a, action=action, secs=30 + b % 90, sel=sel,
                                            retries=1 + b % 5, pid=b)
    return TRACEBACK.format(action=action, ms=30000, sel=sel, n=1 + b % 3, step=a, plan=plan)


def _inject(data: bytes, lines: list[str], rng: np.random.Generator, fraction: float,
            newest: bool) -> tuple[bytes, int]:
    """Rebuild ``data`` with malformed lines before a fraction of the rows."""
    n = len(lines)
    where = np.flatnonzero(rng.random(n) < fraction).tolist()
    kinds = rng.choice(4, len(where), p=[0.4, 0.2, 0.25, 0.15]).tolist()
    cuts = rng.random(len(where)).tolist()
    garbage = (b"\xff\xfe{\"run_id\":\"\xc3\x28\"}\n", b"[1,2,3]\n", b"42\n",
               b'{"workflow_id":"x"}{"status":"failed"}\n', b"not json at all\n",
               b"\x1b[31mERROR\x1b[0m disk full\n")
    out: list[bytes] = []
    prev = 0
    for j, (i, kind, cut) in enumerate(zip(where, kinds, cuts, strict=True)):
        out.append("".join(lines[prev:i]).encode("utf-8"))
        prev = i
        line = lines[i].encode("utf-8")
        if kind == 0:  # a row torn by a crash (never completed), sealed by the next writer
            out.append(line[: 1 + int(cut * (len(line) - 3))] + SEAL)
        elif kind == 1:  # a zero-filled tail after a crash, sealed by the next writer
            out.append(b"\x00" * (1 + int(cut * 4096)) + SEAL)
        elif kind == 2:
            out.append(garbage[j % len(garbage)])
        else:
            out.append(b"\n")
    out.append("".join(lines[prev:]).encode("utf-8"))
    bad = len(where)
    if newest and lines:  # a write in progress at the end of the live shard
        last = lines[-1].encode("utf-8")
        out.append(last[: len(last) // 2])
        bad += 1
    return b"".join(out), bad


# --- planning the months -----------------------------------------------------------------------


def _month_starts(end: date, months: int) -> list[datetime]:
    y, m = end.year, end.month
    starts = []
    for _ in range(months):
        starts.append(datetime(y, m, 1, tzinfo=UTC))
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return starts[::-1]


def _to_us(dt: datetime) -> int:
    return int(dt.timestamp()) * US


def plan(out: Path, rows: int, months: int, end: date, seed: int, malformed: float,
         verify_every: int, now: datetime, chunk_rows: int = 0) -> list[MonthJob]:
    """One job per month; a month of more than ``chunk_rows`` rows (0: no limit) is split into
    consecutive time slices of equal length, one job each, written to ``<shard>.gen-NNN`` files
    that ``main`` concatenates in order (a job holds its rows in memory, about 4.5 KB a row).
    Months that fit in one job come out exactly as without ``chunk_rows``."""
    stop = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    stop = min(stop, now) if end == now.date() else stop
    starts = _month_starts(end, months)
    bounds = [*starts[1:], stop]
    spans = np.array([(b - s).total_seconds() for s, b in zip(starts, bounds, strict=True)])
    weight = spans * MONTHLY_GROWTH ** np.arange(months)
    counts = np.random.default_rng([seed, 10_000]).multinomial(rows, weight / weight.sum())
    jobs = []
    for i, (s, b, c) in enumerate(zip(starts, bounds, counts.tolist(), strict=True)):
        month = month_of(s)
        path = str(live_shard(out, month))
        newest = i == months - 1
        if not chunk_rows or c <= chunk_rows:
            jobs.append(MonthJob(month, c, _to_us(s), _to_us(b), _to_us(starts[0]), _to_us(stop),
                                 seed, i, path, malformed, newest, verify_every))
            continue
        k = -(-c // chunk_rows)
        cuts = np.linspace(_to_us(s), _to_us(b), k + 1).astype(np.int64).tolist()
        split = np.random.default_rng([seed, 20_000, i]).multinomial(c, np.full(k, 1.0 / k))
        for j, n in enumerate(split.tolist()):
            jobs.append(MonthJob(month, n, cuts[j], cuts[j + 1], _to_us(starts[0]), _to_us(stop),
                                 seed, 1_000_000 + 1000 * i + j, f"{path}.gen-{j:03d}", malformed,
                                 newest and j == k - 1, verify_every))
    return jobs


def _join_chunks(jobs: list[MonthJob]) -> None:
    """Concatenate the ``.gen-NNN`` slices of chunked months into their shards, in order."""
    chunked: dict[str, list[str]] = {}
    for j in jobs:
        if ".gen-" in j.path:
            chunked.setdefault(j.path.rsplit(".gen-", 1)[0], []).append(j.path)
    for shard, parts in chunked.items():
        with open(shard, "wb") as out:
            for part in sorted(parts):
                with open(part, "rb") as f:
                    while block := f.read(1 << 24):
                        out.write(block)
                os.unlink(part)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, type=Path, help="data dir (runs_log/ is created)")
    ap.add_argument("--rows", type=int, default=1_000_000, help="good rows in total")
    ap.add_argument("--months", type=int, default=13, help="monthly shards, the last one partial")
    ap.add_argument("--end", type=date.fromisoformat, default=None,
                    help="last day (YYYY-MM-DD, UTC); default today, and then rows stop at now")
    ap.add_argument("--seed", type=int, default=20260513)
    ap.add_argument("--malformed", type=float, default=0.0, metavar="FRACTION",
                    help="insert a malformed line before this fraction of rows (e.g. 0.001)")
    ap.add_argument("--verify-every", type=int, default=2000, metavar="K",
                    help="check every K-th row (and 50 failed rows a shard) against prepare(); "
                         "1 checks every row, 0 none")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--chunk-rows", type=int, default=1_000_000, metavar="N",
                    help="generate a month of more than N rows in time slices of at most N rows "
                         "(bounds memory: about 4.5 KB a row per job); 0: one job per month")
    ap.add_argument("--force", action="store_true",
                    help="delete the shards already in <out>/runs_log (*.jsonl*) first; "
                         "compacted/ is left alone")
    args = ap.parse_args(argv)

    if args.months < 1 or args.rows < 0 or not 0.0 <= args.malformed < 1.0:
        ap.error("need --months >= 1, --rows >= 0 and 0 <= --malformed < 1")
    now = datetime.now(UTC)
    end = args.end or now.date()
    logdir = runs_log_dir(args.out)
    existing = sorted(logdir.glob("*.jsonl*")) if logdir.is_dir() else []
    if existing:
        if not args.force:
            ap.error(f"{logdir} already holds {len(existing)} shard(s); pass --force to replace")
        for p in existing:
            p.unlink()
    logdir.mkdir(parents=True, exist_ok=True)

    jobs = plan(args.out, args.rows, args.months, end, args.seed, args.malformed,
                args.verify_every, now, args.chunk_rows)
    t0 = time.perf_counter()
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:  # biggest months first
            order = sorted(jobs, key=lambda j: -j.rows)
            results = list(pool.map(generate_month, order))
    else:
        results = [generate_month(j) for j in jobs]
    _join_chunks(jobs)
    elapsed = time.perf_counter() - t0
    merged: dict[str, dict[str, Any]] = {}
    for r in results:  # the slices of a chunked month, summed
        m = merged.setdefault(r["month"], {"month": r["month"], "rows": 0, "bad": 0, "bytes": 0,
                                           "seconds": 0.0, "per_workflow": [0] * len(WORKFLOWS)})
        for key in ("rows", "bad", "bytes", "seconds"):
            m[key] += r[key]
        m["per_workflow"] = [a + b for a, b in zip(m["per_workflow"], r["per_workflow"],
                                                    strict=True)]
    results = sorted(merged.values(), key=lambda r: r["month"])

    size = sum(r["bytes"] for r in results)
    per_wf = np.sum([r["per_workflow"] for r in results], axis=0)
    for r in results:
        print(f"{r['month']}.jsonl  {r['rows']:>9,} rows  {r['bad']:>6,} bad  "
              f"{r['bytes'] / 1e6:8.1f} MB  {r['seconds']:5.1f} s", file=sys.stderr)
    print(f"{args.rows:,} rows, {sum(r['bad'] for r in results):,} malformed lines, "
          f"{size / 1e6:.1f} MB ({size / 2**20:.1f} MiB, {size / max(1, args.rows):.0f} B/row) "
          f"in {len(results)} shards under {logdir}; {elapsed:.1f} s", file=sys.stderr)
    for w, c in zip(WORKFLOWS, per_wf.tolist(), strict=True):
        print(f"  {w.workflow_id:<34} {c:>9,}  ({c / max(1, args.rows):.1%})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
