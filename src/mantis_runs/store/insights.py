"""RunStore's analyses beyond stats and compare: trend, tail, failures and advise
(docs/python-api.md). A mixin, so that runstore.py stays one reader's size; each method is a thin
call into the analysis wing, imported inside the method (numpy and scipy load only when asked).
"""

from __future__ import annotations

from pathlib import Path


class InsightMethods:
    """Mixed into :class:`~mantis_runs.store.runstore.RunStore`."""

    data_dir: Path
