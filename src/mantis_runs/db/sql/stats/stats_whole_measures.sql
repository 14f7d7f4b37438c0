-- stats_whole_measures: the rows of a whole-history `stats`, every status of the workflow's rows
-- since $since (mantis_whole_rows), for the caller to count the failure window and to select
-- order statistics from (stats.whole, stats.order), in one read:
--   chosen      - the run has status $status (its measures are samples; the runs counted);
--   unlike      - its status IS DISTINCT FROM $status (where the failure window may start
--                 earlier than the oldest chosen run: stats_whole_failures);
--   failed      - its status is 'failed';
--   finished_at - as stored (NULL: undated);
--   then one column per measure - total_time_s, then each known bucket by name - as stored:
--   NULL where the run has none. NaN and infinities are no samples either; the caller leaves
--   them out as it copies the values (stats.order.finite), which costs less there than a CASE
--   per value here.
-- Parameters: $files, $workflow_id, $since, $status.
SELECT coalesce($status IS NULL OR status = $status, false) AS chosen,
       status IS DISTINCT FROM $status AS unlike,
       coalesce(status = 'failed', false) AS failed,
       finished_at,
       total_time_s, unnest(known)
FROM mantis_whole_rows($files, $workflow_id, $since);
