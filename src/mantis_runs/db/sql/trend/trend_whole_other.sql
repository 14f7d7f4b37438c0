-- trend_whole_other: the entries of the `other` bucket maps of the runs trend_whole_rows reads,
-- one row per entry: finished_at in microseconds, the status code, bucket and seconds. Run only
-- when one of those runs has such a map (rare: buckets outside the known nine); the caller leaves
-- out NULL seconds and the known names, as analysis.runs does on the general path.
-- Parameters: $files, $workflow_id, $since (ISO text or NULL), $end (ISO text or NULL).
SELECT finished_us, code, unnest(map_keys(other)) AS bucket, unnest(map_values(other)) AS seconds
FROM mantis_trend_rows($files, $workflow_id, $since, $end)
WHERE coalesce(cardinality(other), 0) > 0;
