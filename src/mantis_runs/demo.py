"""A realistic demo history, written through the real writer (standard library only)."""

from __future__ import annotations

import random
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
        # a slow regression in the newest month for the busiest workflow's `settle` bucket
        regress = 1.6 if (wf == names[0] and back < 30 * 86400) else 1.0
        breakdown: dict[str, float] = {}
        for bucket in KNOWN_BUCKETS:
            median = profiles[wf].get(bucket)
            if median is None or rng.random() < 0.04:  # some runs skip a bucket
                continue
            factor = regress if bucket == "settle" else 1.0
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


def write_demo(data_dir: Path, runs: int, *, now: datetime | None = None,
               seed: int = 7) -> DemoResult:
    """Append ``runs`` demo rows through :func:`append_run` into ``data_dir``."""
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
