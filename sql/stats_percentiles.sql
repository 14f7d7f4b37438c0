-- stats_percentiles: p50/p95/p99 per wall-time bucket and for total_time_s over the runs in
-- mantis_candidates with status $status: by now the newest --last of them (stats_keep_newest).
-- Parameters: $status (NULL = any), $buckets (VARCHAR[] or NULL = all),
--             $known_struct (a json_transform structure: every known bucket as DOUBLE).
-- * A run_id appears once here: stats_dedupe has removed extra copies when there were any.
-- * Percentiles are numpy's default (linear interpolation between closest ranks), bit for bit,
--   through the mantis_quantile_sorted macro over each sorted sample of finite DOUBLEs.
-- * Breakdown entries of JSONL rows come from mantis_candidates, those of Parquet rows from
--   mantis_entries (stats_fetch_part_entries).
-- * A bucket missing from a run is absent from that bucket's sample, never zero: n says how many
--   runs had it. NaN and infinite values (only hand-written lines have them) are not samples.
-- Result: one row per bucket; kind = 'total' for total_time_s, 'bucket' otherwise.
WITH newest AS (
    SELECT total_time_s, breakdown, bucket_map  -- bucket_map: JSONL rows only
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
),
entries AS (
    SELECT bucket, seconds FROM known_entries
    UNION ALL
    SELECT unnest(map_keys(bucket_map)) AS bucket,
           unnest(map_values(bucket_map)) AS seconds
    FROM newest
    WHERE bucket_map IS NOT NULL
    UNION ALL
    SELECT bucket, seconds
    FROM mantis_entries  -- the breakdown entries of the Parquet rows among the newest
),
samples AS (
SELECT 'total' AS kind,
       'total_time_s' AS bucket,
       count(total_time_s) AS n,
       (SELECT count(*) FROM newest) AS run_count,
       list_sort(list(total_time_s) FILTER (WHERE total_time_s IS NOT NULL)) AS sample
FROM newest
UNION ALL
SELECT 'bucket' AS kind,
       bucket,
       count(seconds) AS n,
       NULL AS run_count,
       list_sort(list(seconds)) AS sample
FROM entries
WHERE ($buckets IS NULL OR list_contains($buckets, bucket))
  AND isfinite(seconds)  -- NULL, NaN and infinities (hand-written lines) are not samples
GROUP BY bucket
)
SELECT kind, bucket, n, run_count,
       [mantis_quantile_sorted(sample, 0.5), mantis_quantile_sorted(sample, 0.95),
        mantis_quantile_sorted(sample, 0.99)] AS q
FROM samples
ORDER BY kind, bucket;
