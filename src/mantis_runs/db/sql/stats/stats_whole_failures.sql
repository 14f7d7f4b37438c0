-- stats_whole_failures: stats_failures for a whole-history `stats` read in place: the window
-- starts at the oldest run with status $status since $since (every such run is reported on this
-- path) and holds every run of the workflow finished since, of any status (mantis_whole_rows:
-- no run_id repeats there, stats.whole.repeats proved it).
-- The read of stats_whole_measures gives the same numbers unless a run with another status is
-- older than the window's start; only then does this query run.
-- Parameters: $files, $workflow_id, $since, $status.
-- Result: as stats_failures, one row with grp NULL.
WITH start AS (
    SELECT min(finished_at) AS since
    FROM mantis_whole_rows($files, $workflow_id, $since)
    WHERE $status IS NULL OR status = $status
)
SELECT NULL::VARCHAR AS grp,
       (SELECT since FROM start) AS since,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) AS runs
FROM mantis_whole_rows($files, $workflow_id, $since)
WHERE finished_at >= (SELECT since FROM start);
