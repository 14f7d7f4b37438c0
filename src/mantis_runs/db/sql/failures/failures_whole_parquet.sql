-- failures_whole_parquet: the workflow's failed dated Parquet rows since $since, read in place
-- (mantis_whole_rows' Parquet side; stats.whole.repeats proved that no run_id repeats, so each
-- row is a run's only copy), into mantis_failed, per error text and week.
-- Parameters: $files (VARCHAR[], not empty), $workflow_id, $since (ISO text or NULL).
INSERT INTO mantis_failed BY NAME
SELECT @failed_groups@
FROM read_parquet($files)
WHERE workflow_id = $workflow_id
  AND status = 'failed'
  AND finished_at IS NOT NULL
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
GROUP BY error, week;
