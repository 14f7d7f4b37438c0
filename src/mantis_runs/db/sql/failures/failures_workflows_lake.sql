-- failures_workflows_lake: the workflow ids of the rows since $since in some month partitions
-- of the lake (mantis_lake), as failures_workflows_parquet for Parquet files.
-- Parameters: $months (month partitions), $undated (also the partition of runs without a
-- finished_at), $since (ISO text or NULL).
SELECT DISTINCT workflow_id
FROM mantis_lake
WHERE (list_contains($months, month) OR ($undated AND month IS NULL))
  AND workflow_id IS NOT NULL
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ));
