-- stats_whole_counts: whether a whole-history `stats` may use every row in place
-- (stats_whole_measures, stats_whole_other): `copies` rows of the workflow since $since, over `keys` distinct
-- run_keys (equal means no run_id repeats, so nothing needs deduplicating), `runs` of them with
-- status $status (at most --last means every one is used).
-- Parameters: $files, $workflow_id, $since, $status.
SELECT count(*) AS copies,
       count(DISTINCT run_key) AS keys,
       count(*) FILTER (WHERE $status IS NULL OR status = $status) AS runs
FROM mantis_whole_rows($files, $workflow_id, $since);
