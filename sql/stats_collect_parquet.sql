-- stats_collect_parquet: gather one batch of compacted Parquet parts into mantis_candidates.
-- Parameters: $files (VARCHAR[]), $workflow_id, $status (NULL = any), $since (ISO text or NULL).
-- Parts hold only good rows, so nothing here is counted as skipped.
INSERT INTO mantis_candidates
SELECT
    NULL AS source,
    run_id,
    finished_at,
    total_time_s,
    wall_time_breakdown
FROM read_parquet($files)
WHERE workflow_id = $workflow_id
  AND ($status IS NULL OR status = $status)
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ));
