"""The forensics wing: ``RunStore`` (rows, one-run reports, SQL over the views, run events) and
``watch``."""

from .events import EventRow, RunStatus, Timeline
from .runstore import BucketLine, QueryResult, RunReport, RunRow, RunStore, row_to_json

__all__ = ["BucketLine", "EventRow", "QueryResult", "RunReport", "RunRow", "RunStatus", "RunStore",
           "Timeline", "row_to_json"]
