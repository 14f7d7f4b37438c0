"""A realistic demo history, written through the real writer (standard library only)."""

from __future__ import annotations

import os
import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import MantisError
from .log.record import format_timestamp
from .log.schema import KNOWN_BUCKETS
from .log.writer import append_run

# (workflow id, share of runs, typical seconds per bucket: median of a lognormal)
WORKFLOWS: tuple[tuple[str, float, dict[str, float]], ...] = (
    ("default__marketplace-listings-v1", 0.38, {
        "think": 92, "claude_extract": 67, "settle": 28, "claude_ground": 18, "perceive": 11,
        "load": 10, "act": 6, "claude_verify": 4, "overhead": 2}),
    ("default__invoice-triage-v2", 0.22, {
        "think": 31, "claude_extract": 45, "settle": 6, "perceive": 8, "load": 14, "act": 3,
        "claude_verify": 9, "overhead": 1.5}),
    ("acme__support-replies-v3", 0.18, {
        "think": 12, "claude_ground": 7, "perceive": 3, "load": 2, "act": 1.2,
        "claude_verify": 2.5, "overhead": 0.8}),
    ("acme__catalog-enrich-v1", 0.14, {
        "think": 55, "claude_extract": 120, "settle": 15, "claude_ground": 22, "perceive": 19,
        "load": 40, "act": 9, "claude_verify": 6, "overhead": 3}),
    ("labs__web-research-v4", 0.08, {
        "think": 240, "claude_ground": 60, "settle": 90, "perceive": 35, "load": 50, "act": 25,
        "claude_verify": 12, "overhead": 5}),
)
MODELS = ("Hcompany/Holo3-35B-A3B", "Hcompany/Holo3-8B", "claude-sonnet-4")
ERRORS = (
    "TimeoutError: page did not settle within 120s",
    "ElementNotFound: selector '#checkout' matched nothing",
    "RateLimited: upstream model returned 429 after 5 retries",
    "ValidationError: extracted price is not a number",
)


#: The regressions the demo plants, for `mantis runs compare` to find (see PLANTED_COMPARES):
#: the busiest workflow's `settle` bucket 1.4 times slower in the last SETTLE_DAYS days, and
#: in the second workflow a tail-only slowdown: TAIL_SHARE of its runs in the last TAIL_DAYS
#: days wait TAIL_FACTOR times longer to `load` (its p95 moves, its p50 barely).
SETTLE_FACTOR, SETTLE_DAYS = 1.4, 10
TAIL_SHARE, TAIL_FACTOR, TAIL_DAYS = 0.15, 6.0, 14


def _planted(wf: str, back_s: float, rng: random.Random) -> dict[str, float]:
    """Bucket factors of one run (always one draw of ``rng``, so histories stay comparable)."""
    draw = rng.random()
    if wf == WORKFLOWS[0][0] and back_s < SETTLE_DAYS * 86400:
        return {"settle": SETTLE_FACTOR}
    if wf == WORKFLOWS[1][0] and back_s < TAIL_DAYS * 86400 and draw < TAIL_SHARE:
        return {"load": TAIL_FACTOR}
    return {}


def planted_compares() -> list[tuple[str, str, str]]:
    """(workflow, --baseline, --current) of the comparisons that find the planted regressions."""
    return [(WORKFLOWS[0][0], f"{4 * SETTLE_DAYS}d..{SETTLE_DAYS}d", f"{SETTLE_DAYS}d"),
            (WORKFLOWS[1][0], f"{3 * TAIL_DAYS}d..{TAIL_DAYS}d", f"{TAIL_DAYS}d")]


def synth_runs(n: int, *, now: datetime, days: int = 90, seed: int = 7) -> Iterator[dict[str, Any]]:
    """``n`` run rows spread over the ``days`` before ``now``, oldest first."""
    rng = random.Random(seed)
    names = [w[0] for w in WORKFLOWS]
    weights = [w[1] for w in WORKFLOWS]
    profiles = {w[0]: w[2] for w in WORKFLOWS}
    span = timedelta(days=days).total_seconds()
    offsets = sorted((rng.random() * span for _ in range(n)), reverse=True)
    for i, back in enumerate(offsets):
        wf = rng.choices(names, weights)[0]
        tenant = wf.split("__", 1)[0]
        failed = rng.random() < 0.07
        breakdown: dict[str, float] = {}
        slowed = _planted(wf, back, rng)
        for bucket in KNOWN_BUCKETS:
            median = profiles[wf].get(bucket)
            if median is None or rng.random() < 0.04:  # some runs skip a bucket
                continue
            factor = slowed.get(bucket, 1.0)
            breakdown[bucket] = round(median * factor * rng.lognormvariate(0, 0.35), 3)
        total = round(sum(breakdown.values()) * rng.uniform(1.0, 1.04), 3)
        finished = now - timedelta(seconds=back)
        created = finished - timedelta(seconds=total)
        yield {
            "run_id": created.strftime("%Y%m%d_%H%M%S_") + f"{rng.getrandbits(32):08x}",
            "tenant_id": tenant,
            "profile_id": f"{tenant}__{rng.choice(['alice', 'bob', 'ci'])}-prod",
            "workflow_id": wf,
            "plan_signature": f"{rng.getrandbits(48):012x}",
            "model": rng.choice(MODELS),
            "status": "failed" if failed else "succeeded",
            "created_at": format_timestamp(created),
            "finished_at": format_timestamp(finished),
            "total_time_s": total,
            "wall_time_breakdown": breakdown,
            "cost_breakdown": {
                "llm_usd": round(total * rng.uniform(0.0004, 0.0012), 5),
                "browser_usd": round(total * 0.00005, 5),
            },
            "steps_executed": rng.randint(4, 30),
            "viable": rng.randint(0, 5),
            "error": rng.choice(ERRORS) if failed else None,
            "host": f"worker-{i % 4}",  # an extra key: kept, and reachable in SQL
        }


@dataclass(frozen=True)
class DemoResult:
    data_dir: Path
    written: int
    workflows: int  # how many workflows the written runs belong to
    busiest: str


def new_demo_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="mantis-demo-"))


class DemoDirNotEmpty(MantisError):
    """The demo was asked to write its made-up runs into a folder that is not empty."""


def write_demo(data_dir: Path, runs: int, *, now: datetime | None = None,
               seed: int = 7, append: bool = False) -> DemoResult:
    """Append ``runs`` demo rows through :func:`append_run` into ``data_dir``: a new or empty
    folder, unless ``append`` (else :class:`DemoDirNotEmpty`, before anything is written: made-up
    runs mixed into a real store could not be told apart from the real ones)."""
    if not append and _holds_anything(data_dir):
        raise DemoDirNotEmpty(f"{data_dir} is not empty: the demo writes {runs} made-up runs, "
                              "so it wants a new or empty folder")
    now = now or datetime.now(UTC)
    counts: Counter[str] = Counter()
    written = 0
    for row in synth_runs(runs, now=now, seed=seed):
        if append_run(row, data_dir=data_dir):
            written += 1
            counts[row["workflow_id"]] += 1
    busiest = counts.most_common(1)[0][0] if counts else WORKFLOWS[0][0]
    return DemoResult(data_dir=data_dir, written=written, workflows=len(counts),
                      busiest=busiest)


def _holds_anything(folder: Path) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(True for _ in entries)
    except FileNotFoundError:
        return False
