-- stats_whole_measures: the samples of a whole-history `stats`, for the caller to select order
-- statistics from (stats.whole, stats.order): one row per run with status $status, one column
-- per measure - total_time_s, then each known bucket by name - as stored: NULL where the run has
-- none. NaN and infinities are no samples either; the caller leaves them out as it copies the
-- values (stats.order.finite), which costs less there than a CASE per value here.
-- Parameters: $files, $workflow_id, $since, $status.
SELECT total_time_s, unnest(known)
FROM mantis_whole_rows($files, $workflow_id, $since)
WHERE $status IS NULL OR status = $status;
