-- stats_fetch_part_entries: the breakdown entries of each Parquet row still in mantis_candidates
-- with status $status (NULL = any), unnested into mantis_entries. It runs after stats_dedupe
-- and stats_keep_newest, so only the runs the percentiles use are decoded (100 of them by
-- default, not a month).
-- Parameters: $files (the Parquet files read by stats_collect_parquet), $workflow_id, $since,
--             $status. The workflow and since filters are repeated so the reader skips other rows
-- before it joins.
INSERT INTO mantis_entries
SELECT unnest(map_keys(p.wall_time_breakdown)) AS bucket,
       unnest(map_values(p.wall_time_breakdown)) AS seconds
FROM read_parquet($files, filename = true, file_row_number = true) AS p
SEMI JOIN (
    SELECT part_file, part_row
    FROM mantis_candidates
    WHERE part_file IS NOT NULL
      AND ($status IS NULL OR status = $status)
) AS kept
  ON p.filename = kept.part_file AND p.file_row_number = kept.part_row
WHERE p.workflow_id = $workflow_id
  AND ($since IS NULL OR p.finished_at >= CAST($since AS TIMESTAMPTZ));
