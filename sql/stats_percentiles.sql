-- stats_percentiles: p50/p95/p99 per wall-time bucket and for total_time_s over the newest
-- $last runs in mantis_candidates.
-- Parameters: $last (BIGINT), $buckets (VARCHAR[] or NULL = every bucket).
-- * A run_id appears once here: stats_dedupe has removed extra copies when there were any.
-- * "Newest" is finished_at descending, ties broken by run_id descending.
-- * Percentiles are numpy's default (linear interpolation between closest ranks), bit for bit,
--   through the mantis_quantile macro over each sorted sample of DOUBLEs.
-- * A bucket missing from a run is absent from that bucket's sample, never zero: n says how many
--   runs had it.
-- Result: one row per bucket; kind = 'total' for total_time_s, 'bucket' otherwise.
WITH newest AS (
    SELECT total_time_s, wall_time_breakdown
    FROM mantis_candidates
    WHERE run_id IS NOT NULL
    ORDER BY finished_at DESC NULLS LAST, run_id DESC
    LIMIT $last
),
entries AS (
    SELECT unnest(map_keys(wall_time_breakdown)) AS bucket,
           unnest(map_values(wall_time_breakdown)) AS seconds
    FROM newest
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
  AND seconds IS NOT NULL
GROUP BY bucket
)
SELECT kind, bucket, n, run_count,
       [mantis_quantile(sample, 0.5), mantis_quantile(sample, 0.95),
        mantis_quantile(sample, 0.99)] AS q
FROM samples
ORDER BY kind, bucket;
