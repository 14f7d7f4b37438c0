-- stats_whole_counts: the counts a whole-history `stats` needs before reading the samples in
-- place (stats_whole_measures), over the workflow's rows since $since (mantis_whole_rows; no
-- run_id is read here: stats.whole.repeats proves they never repeat):
--   runs         - the workflow's rows with status $status (at most --last: every one is used);
--   since, early - the oldest finished_at of those runs (where the failure-rate window starts:
--                  stats_failures) and of the workflow's other runs;
--   failed, dated - the workflow's dated runs, failed and all: the window's counts when no other
--                  run is older than `since` (else stats_whole_failures counts them);
--   other        - whether one of those runs has buckets of other names: only then does
--                  stats_whole_other run (a mostly NULL column: cheap to read here).
-- Parameters: $files, $workflow_id, $since, $status.
SELECT count(*) FILTER (WHERE $status IS NULL OR status = $status) AS runs,
       min(finished_at) FILTER (WHERE $status IS NULL OR status = $status) AS since,
       min(finished_at) FILTER (WHERE status IS DISTINCT FROM $status) AS early,
       count(finished_at) FILTER (WHERE status = 'failed') AS failed,
       count(finished_at) AS dated,
       coalesce(bool_or(cardinality(other) > 0)
                    FILTER (WHERE $status IS NULL OR status = $status), false) AS other
FROM mantis_whole_rows($files, $workflow_id, $since);
