-- stats_whole_counts: before a whole-history `stats` reads its rows in place
-- (stats_whole_measures), when the footers do not prove it (stats.footers), over the workflow's
-- rows since $since (mantis_whole_rows; no run_id is read here: stats.whole.repeats proves they
-- never repeat):
--   runs  - the workflow's rows with status $status (at most --last: every one is used);
--   other - whether one of those runs has buckets of other names: only then does
--           stats_whole_other run (a mostly NULL column: cheap to read here).
-- Parameters: $files, $workflow_id, $since, $status.
SELECT count(*) AS runs,
       coalesce(bool_or(cardinality(other) > 0), false) AS other
FROM mantis_whole_rows($files, $workflow_id, $since)
WHERE $status IS NULL OR status = $status;
