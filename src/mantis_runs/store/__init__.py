"""The forensics wing: ``RunStore`` (rows, one-run reports, SQL over the views) and ``watch``."""

from .runstore import BucketLine, QueryResult, RunReport, RunRow, RunStore, row_to_json

__all__ = ["BucketLine", "QueryResult", "RunReport", "RunRow", "RunStore", "row_to_json"]
