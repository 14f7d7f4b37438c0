-- stats_collect_parquet: gather the workflow's rows of one batch of Parquet files (compacted
-- parts, checkpoints of live shards) into mantis_candidates. Their rivals (copies under other
-- workflows) are gathered apart, by stats_rivals, only for the runs that may have one.
-- Parameters: $files (VARCHAR[]), $workflow_id, $since (ISO text or NULL), $step, and two bounds
-- that split the files' rows in two disjoint sets (both NULL: every row):
--   $at_least - only rows with finished_at >= it (stats_cutoff's cutoff, as text);
--   $before   - only rows with finished_at < it or NULL (the rest, when the first set was short).
-- Parquet files hold only good rows, so nothing here is counted as skipped. Rows are grouped by
-- workflow, so the workflow filter skips most other workflows' row groups undecoded.
INSERT INTO mantis_candidates BY NAME
SELECT
    NULL AS source,
    run_id,
    workflow_id,
    status,
    finished_at,
    mantis_finite(total_time_s) AS total_time_s,
    wall_time_breakdown AS known,
    wall_time_breakdown_other AS other,
    model,
    plan_signature,
    profile_id,
    tenant_id,
    $step AS step,
    false AS jsonl
FROM read_parquet($files)
WHERE workflow_id = $workflow_id
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
  AND ($at_least IS NULL OR finished_at >= CAST($at_least AS TIMESTAMPTZ))
  AND ($before IS NULL OR finished_at < CAST($before AS TIMESTAMPTZ) OR finished_at IS NULL);
