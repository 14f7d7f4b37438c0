"""The forensics wing: ``RunStore`` (rows, one-run reports, SQL over the views, run events) and
``watch``."""

from .events import EventRow, RunStatus, Timeline
from .rows import BucketLine, RunReport, RunRow, row_to_json
from .runstore import QueryResult, RunStore

__all__ = ["BucketLine", "EventRow", "QueryResult", "RunReport", "RunRow", "RunStatus", "RunStore",
           "Timeline", "row_to_json"]
