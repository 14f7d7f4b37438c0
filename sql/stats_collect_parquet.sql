-- stats_collect_parquet: gather one batch of compacted Parquet parts into mantis_candidates.
-- Parameters: $files (VARCHAR[]), $workflow_id, $since (ISO text or NULL).
-- Parts hold only good rows, so nothing here is counted as skipped.
INSERT INTO mantis_candidates
SELECT
    NULL AS source,
    run_id,
    status,
    finished_at,
    CASE WHEN isfinite(total_time_s) THEN total_time_s END AS total_time_s,
    NULL AS breakdown,
    wall_time_breakdown AS bucket_map
FROM read_parquet($files)
WHERE workflow_id = $workflow_id
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ));
