-- compact_ids: one scan that tells compaction what it needs before it writes anything.
-- Parameters: $files (the sealed shard), $previous (the month's current part, or an empty
-- placeholder Parquet file when there is none).
-- Rows of the result:
--   total_row = 1: shard_lines = the shard's non-blank lines (blank lines are no row anywhere);
--   run_id NULL:   shard_lines = the shard's bad lines (unparseable, not an object, no run_id
--                  or an empty one: mantis_bad_line's rule, and the stats reader's, which reads
--                  run_id the same way);
--   otherwise:     a run_id present more than once across the shard and the current part.
-- Only the run_id column is read, so this is the cheapest pass; the GROUP BY spills to the
-- scratch directory beyond the memory limit.
CREATE OR REPLACE TEMP TABLE mantis_ids AS
SELECT grouping(run_id) AS total_row,
       run_id,
       count(*) FILTER (WHERE src = 0) AS shard_lines,
       count(*) AS copies
FROM (
    SELECT 0 AS src, nullif(run_id, '') AS run_id  -- "" is no run_id (mantis_bad_line)
    FROM read_json($files, format = 'newline_delimited', records = true,
                   columns = {run_id: 'VARCHAR'}, ignore_errors = true)
    UNION ALL
    SELECT 1 AS src, run_id
    FROM read_parquet($previous)
)
GROUP BY GROUPING SETS ((run_id), ())
HAVING grouping(run_id) = 1 OR run_id IS NULL OR count(*) > 1;
