-- trend_whole_rows: the runs a `trend` reads in place (mantis_trend_rows), as plain columns:
-- finished_at in microseconds, the status code, whether the run has buckets of other names (then
-- read by trend_whole_other), total_time_s and the nine known buckets by name as stored (NULL:
-- none; NaN and infinities are left out by the caller). Not sorted: the caller groups them by
-- period.
-- Parameters: $files, $workflow_id, $since (ISO text or NULL), $end (ISO text or NULL).
SELECT finished_us, code, coalesce(cardinality(other), 0) > 0 AS has_other, total_time_s,
       unnest(known)
FROM mantis_trend_rows($files, $workflow_id, $since, $end);
