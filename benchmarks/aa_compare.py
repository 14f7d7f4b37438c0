"""A/A replay of `compare`: how often it cries "regressed" where nothing changed.

Over a history made by gen_logs.py (which plants one regression: the busiest workflow's
``claude_extract`` x1.4 in the last 21 days), every workflow's consecutive windows are compared
(the 28 days before a week against that week, stepping by ``--step-days``), leaving out the
windows that touch the planted regression. Prints the comparisons made, how many exited 1, and
which metrics were flagged.

Usage::

    python benchmarks/aa_compare.py --data-dir /work/bench-data/c10m [--step-days 14]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen_logs import REGRESSION, WORKFLOWS  # noqa: E402
from mantis_runs import RunStore  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--step-days", type=int, default=14)
    ap.add_argument("--json", default=None, help="Also write the figures here.")
    args = ap.parse_args()
    store = RunStore(args.data_dir)
    span = store.sql("SELECT min(finished_at) AS lo, max(finished_at) AS hi FROM runs")
    lo, hi = span.column("lo")[0].as_py(), span.column("hi")[0].as_py()
    wf_reg, _, _, reg_days = REGRESSION
    regression_starts = hi - timedelta(days=reg_days)
    day = timedelta(days=1)
    made = alarms = 0
    flagged: Counter[str] = Counter()
    start = lo.replace(hour=0, minute=0, second=0, microsecond=0) + 28 * day
    while start + 7 * day <= hi:
        for i, wf in enumerate(w.workflow_id for w in WORKFLOWS):
            if i == wf_reg and start + 7 * day > regression_starts:
                continue  # the planted change: not an A/A pair
            base = f"{_iso(start - 28 * day)}..{_iso(start)}"
            cur = f"{_iso(start)}..{_iso(start + 7 * day)}"
            r = store.compare(wf, baseline=base, current=cur)
            if r.exit_code == 2:
                continue
            made += 1
            if r.exit_code == 1:
                alarms += 1
                flagged.update(m.metric for m in r.metrics if m.verdict == "regressed")
        start += args.step_days * day
    out = {"comparisons": made, "alarms": alarms,
           "rate": alarms / made if made else None, "flagged": dict(flagged)}
    print(json.dumps(out))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


if __name__ == "__main__":
    main()
