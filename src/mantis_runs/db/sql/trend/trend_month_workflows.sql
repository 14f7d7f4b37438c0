-- trend_month_workflows: the workflows with a row in one month's Parquet parts, for the warm-up
-- of trend's closed-month memo after a compaction (analysis/trend_warm.py): one read of the
-- workflow_id column only.
-- Parameters: $files (the month's parts).
SELECT DISTINCT workflow_id
FROM read_parquet($files)
WHERE workflow_id IS NOT NULL
ORDER BY workflow_id;
