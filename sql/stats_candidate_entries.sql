-- stats_candidate_entries: the sample values held in mantis_candidates itself, into
-- mantis_entries: each run's total_time_s (kind 'total'), and the breakdown entries of JSONL rows
-- (Parquet rows' entries come from stats_fetch_part_entries). Runs with status $status (NULL =
-- any) only; by now stats_dedupe and stats_keep_newest have left the runs to use.
-- Parameters: $status, $known_struct (a json_transform structure: every known bucket as DOUBLE).
INSERT INTO mantis_entries
WITH newest AS (
    SELECT total_time_s, breakdown, bucket_map
    FROM mantis_candidates
    WHERE run_id IS NOT NULL
      AND ($status IS NULL OR status = $status)
),
known_entries AS (
    -- one column per known bucket, then one row per non-NULL value (UNPIVOT drops NULLs)
    UNPIVOT (
        SELECT unnest(json_transform(breakdown, $known_struct))
        FROM newest
        WHERE breakdown IS NOT NULL
    )
    ON COLUMNS(*)
    INTO NAME bucket VALUE seconds
)
SELECT 'total' AS kind, 'total_time_s' AS bucket, total_time_s AS seconds
FROM newest
WHERE total_time_s IS NOT NULL
UNION ALL
SELECT 'bucket', bucket, seconds
FROM known_entries
UNION ALL
SELECT 'bucket', unnest(map_keys(bucket_map)), unnest(map_values(bucket_map))
FROM newest
WHERE bucket_map IS NOT NULL;
