-- stats_fetch_part_entries_all: as stats_fetch_part_entries, when every Parquet row matching the
-- filters is still in mantis_candidates (no cutoff left rows unread, dedupe removed none and
-- --last trimmed none): the filters alone then select exactly the kept rows, and no join is
-- needed. The caller decides; this query cannot tell.
-- Parameters: $files, $workflow_id, $since, $status.
INSERT INTO mantis_entries
SELECT unnest(map_keys(wall_time_breakdown)) AS bucket,
       unnest(map_values(wall_time_breakdown)) AS seconds
FROM read_parquet($files)
WHERE workflow_id = $workflow_id
  AND ($since IS NULL OR finished_at >= CAST($since AS TIMESTAMPTZ))
  AND ($status IS NULL OR status = $status);
