-- stats_collect_jsonl: gather one batch of JSONL shards into mantis_candidates.
-- Parameters: $files (VARCHAR[]), $columns (the explicit schema; never auto-detected),
--             $workflow_id, $status (NULL = any), $since (ISO text or NULL).
-- Bad lines come back from ignore_errors as all-NULL rows; they are kept (run_id IS NULL), with
-- their shard in `source`, so the caller can count them per shard (good rows need no source). The breakdown is read as JSON text, which DuckDB 2.0 parses
-- much faster than MAP, and cast only for the rows that match.
INSERT INTO mantis_candidates
SELECT
    CASE WHEN run_id IS NULL THEN filename END AS source,
    run_id,
    finished_at,
    total_time_s,
    TRY_CAST(wall_time_breakdown AS MAP(VARCHAR, DOUBLE)) AS wall_time_breakdown
FROM read_json(
    $files,
    format = 'newline_delimited',
    records = true,  -- never let a non-object first line switch the reader to scalar mode
    columns = $columns,
    ignore_errors = true
)
WHERE run_id IS NULL
   OR (workflow_id = $workflow_id
       AND ($status IS NULL OR status = $status)
       AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ)));
