-- failures_workflows_parquet: the workflow ids of the rows since $since in Parquet files (for
-- `mantis runs failures` without a workflow: one pass of the stats engine per workflow).
-- Parameters: $files (VARCHAR[], not empty), $since (ISO text or NULL).
SELECT DISTINCT workflow_id
FROM read_parquet($files)
WHERE workflow_id IS NOT NULL
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ));
