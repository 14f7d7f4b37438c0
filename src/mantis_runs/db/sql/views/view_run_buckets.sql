-- run_buckets: the long form of wall_time_breakdown, one row per run and bucket.
-- A bucket a run did not report has no row (it is not zero).
CREATE OR REPLACE TEMP VIEW run_buckets AS
SELECT run_id, workflow_id, status, model, finished_at,
       unnest(map_keys(wall_time_breakdown)) AS bucket,
       unnest(map_values(wall_time_breakdown)) AS seconds
FROM runs;
