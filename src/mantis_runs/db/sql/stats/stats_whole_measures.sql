-- stats_whole_measures: the samples of a whole-history `stats`, for the caller to select order
-- statistics from (query.py): one row per run with status $status, one column per measure -
-- total_time_s, then each known bucket by name - and NULL where the run has no finite value
-- (missing, NaN or infinite: not a sample).
-- Parameters: $files, $workflow_id, $since, $status.
SELECT mantis_finite(COLUMNS(*))
FROM (
    SELECT total_time_s, unnest(known)
    FROM mantis_whole_rows($files, $workflow_id, $since)
    WHERE $status IS NULL OR status = $status
);
