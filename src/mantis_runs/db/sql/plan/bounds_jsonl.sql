-- bounds_jsonl: what each JSONL shard of $files holds, read as the stats engine reads it
-- (@stats_jsonl_read@; db/jsonl_bounds.py): its good rows, its bad lines (run_id NULL or "",
-- the rows stats_skipped counts), whether a row is undated, the earliest and latest finished_at
-- of its dated rows, and its smallest and largest run_id (text order). A file with no line at
-- all is not named back.
-- A finished_at Python cannot hold (infinite, or outside years 1-9999: @plain_time@) counts as
-- undated here, so a shard holding one is always read.
-- Parameters: $files (VARCHAR[]), $columns (the stats reader's explicit schema).
SELECT filename AS file_name,
       count(*) FILTER (WHERE nullif(run_id, '') IS NOT NULL) AS good,
       count(*) FILTER (WHERE nullif(run_id, '') IS NULL) AS bad,
       count(*) FILTER (WHERE nullif(run_id, '') IS NOT NULL AND NOT @plain_time@) > 0
           AS undated,
       min(finished_at) FILTER (WHERE nullif(run_id, '') IS NOT NULL AND @plain_time@)
           AS earliest,
       max(finished_at) FILTER (WHERE nullif(run_id, '') IS NOT NULL AND @plain_time@)
           AS latest,
       min(run_id) FILTER (WHERE nullif(run_id, '') IS NOT NULL) AS low,
       max(run_id) FILTER (WHERE nullif(run_id, '') IS NOT NULL) AS high
FROM @stats_jsonl_read@
GROUP BY filename;
