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
    @stats_workflow_columns@,
    false AS jsonl
FROM read_parquet($files)
WHERE @stats_window@;
