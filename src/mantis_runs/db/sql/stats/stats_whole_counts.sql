-- stats_whole_counts: whether a whole-history `stats` may use every row in place
-- (stats_whole_measures, stats_whole_other). Over the workflow's rows since $since
-- (mantis_whole_rows) and the rivals gathered in mantis_candidates (copies under other
-- workflows, from JSONL and stats_rivals):
--   copies, keys - rows, and distinct hashes of their run_ids: as many keys as copies proves that
--                  no run_id repeats, so nothing needs deduplicating (equal run_ids hash alike;
--                  two run_ids that share a hash only send the caller to the general path);
--   runs         - the workflow's rows with status $status (at most --last: every one is used);
--   shared       - the workflow's Parquet or JSONL rows whose run_id has copies in two Parquet
--                  files ($shared, from shared_ids): any such row sends the caller to the
--                  general path, which ranks the copies.
-- Parameters: $files, $workflow_id, $since, $status, $shared.
SELECT count(*) AS copies,
       count(DISTINCT hash(run_id)) AS keys,
       count(*) FILTER (WHERE mine AND ($status IS NULL OR status = $status)) AS runs,
       count(*) FILTER (WHERE mine AND list_contains($shared, hash(run_id))) AS shared
FROM (
    SELECT run_id, status, true AS mine
    FROM mantis_whole_rows($files, $workflow_id, $since)
    UNION ALL
    SELECT run_id, status, false AS mine
    FROM mantis_candidates
    WHERE run_id IS NOT NULL
      AND workflow_id IS DISTINCT FROM $workflow_id
);
