-- stats_collect_jsonl: gather one batch of JSONL shards into mantis_candidates.
-- Parameters: $files (VARCHAR[]), $columns (the explicit schema; never auto-detected),
--             $workflow_id, $since (ISO text or NULL), $known (the known bucket names),
--             $known_struct (the same names as a json_transform structure of DOUBLEs), $step.
-- Every row that passes the since filter is kept: the workflow's rows whole, the other
-- workflows' rows as rivals without their breakdown (only their run_id and ranking columns).
-- Status is filtered after dedupe.
-- Bad lines come back from ignore_errors as all-NULL rows; they are kept (run_id IS NULL), with
-- their shard in `source`, so the caller can count them per shard (good rows need no source).
-- A line whose run_id is "" is a bad line too (mantis_bad_line's rule): its run_id becomes NULL,
-- so the steps after this one leave it out, and stats_skipped counts it.
-- The breakdown is read as JSON text (DuckDB 2.0 parses it much faster than MAP) and turned into
-- the known-bucket struct; only rows with other bucket names pay for a MAP, built with the same
-- lenient casts as the struct (a value that is not a number is NULL, not a failed row).
INSERT INTO mantis_candidates BY NAME
SELECT
    CASE WHEN nullif(run_id, '') IS NULL THEN filename END AS source,
    nullif(run_id, '') AS run_id,
    workflow_id,
    status,
    finished_at,
    mantis_finite(total_time_s) AS total_time_s,  -- "NaN", 1e400
    CASE WHEN workflow_id = $workflow_id AND json_type(wall_time_breakdown) = 'OBJECT'
         THEN json_transform(wall_time_breakdown, $known_struct) END AS known,
    CASE WHEN workflow_id = $workflow_id
          AND NOT list_has_all($known, json_keys(wall_time_breakdown))
         THEN json_transform(wall_time_breakdown, '"MAP(VARCHAR, DOUBLE)"') END AS other,
    CASE WHEN workflow_id = $workflow_id THEN model END AS model,
    CASE WHEN workflow_id = $workflow_id THEN plan_signature END AS plan_signature,
    CASE WHEN workflow_id = $workflow_id THEN profile_id END AS profile_id,
    CASE WHEN workflow_id = $workflow_id THEN tenant_id END AS tenant_id,
    $step AS step,
    true AS jsonl
FROM @stats_jsonl_read@  -- records = true: a non-object first line never switches to scalars
WHERE nullif(run_id, '') IS NULL
   OR $since IS NULL
   OR finished_at >= CAST($since AS TIMESTAMPTZ);
