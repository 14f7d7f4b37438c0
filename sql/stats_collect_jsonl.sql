-- stats_collect_jsonl: gather one batch of JSONL shards into mantis_candidates.
-- Parameters: $files (VARCHAR[]), $columns (the explicit schema; never auto-detected),
--             $workflow_id, $since (ISO text or NULL), $known (the known bucket names).
-- Status is filtered after dedupe.
-- Bad lines come back from ignore_errors as all-NULL rows; they are kept (run_id IS NULL), with
-- their shard in `source`, so the caller can count them per shard (good rows need no source).
-- The breakdown is read as JSON text (DuckDB 2.0 parses it much faster than MAP) and kept as is
-- when all its keys are known buckets; only other rows pay for a cast to MAP.
INSERT INTO mantis_candidates
SELECT
    CASE WHEN run_id IS NULL THEN filename END AS source,
    run_id,
    status,
    finished_at,
    CASE WHEN isfinite(total_time_s) THEN total_time_s END AS total_time_s,  -- "NaN", 1e400
    CASE WHEN list_has_all($known, json_keys(wall_time_breakdown))
         THEN wall_time_breakdown END AS breakdown,
    CASE WHEN NOT list_has_all($known, json_keys(wall_time_breakdown))
         THEN TRY_CAST(wall_time_breakdown AS MAP(VARCHAR, DOUBLE)) END AS bucket_map,
    NULL AS part_file,
    NULL AS part_row
FROM read_json(
    $files,
    format = 'newline_delimited',
    records = true,  -- never let a non-object first line switch the reader to scalar mode
    columns = $columns,
    ignore_errors = true
)
WHERE run_id IS NULL
   OR (workflow_id = $workflow_id
       AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ)));
