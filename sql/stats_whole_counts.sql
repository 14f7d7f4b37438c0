-- stats_whole_counts: whether a whole-history `stats` may use every row in place
-- (stats_whole_measures, stats_whole_other): `copies` rows of the workflow since $since, with
-- `keys` distinct hashes of their run_ids (as many as rows proves that no run_id repeats, so
-- nothing needs deduplicating: equal run_ids hash alike; two run_ids that share a hash only send
-- the caller to the general path), `runs` of them with status $status (at most --last means
-- every one is used).
-- Parameters: $files, $workflow_id, $since, $status.
SELECT count(*) AS copies,
       count(DISTINCT hash(run_id)) AS keys,
       count(*) FILTER (WHERE $status IS NULL OR status = $status) AS runs
FROM mantis_whole_rows($files, $workflow_id, $since);
