-- stats_percentiles: p50/p95/p99 per wall-time bucket and of total_time_s over mantis_entries
-- (the sample values of the runs kept: stats_candidate_entries, stats_fetch_part_entries).
-- Parameters: $status (NULL = any; for run_count), $buckets (VARCHAR[] or NULL = all).
-- * Percentiles are numpy's default (linear interpolation between closest ranks), bit for bit,
--   through the mantis_quantile_sorted macro over each sorted sample of finite DOUBLEs. The
--   samples are sorted by an ordered aggregate, which DuckDB's sort does faster than list_sort.
-- * A bucket missing from a run is absent from that bucket's sample, never zero: n says how many
--   runs had it. NaN and infinite values (only hand-written lines have them) are not samples.
-- Result: one row per bucket, kind = 'total' for total_time_s (always present: run_count is
-- there), 'bucket' otherwise; q = [p50, p95, p99].
WITH samples AS (
    SELECT kind, bucket, list(seconds ORDER BY seconds) AS sample
    FROM mantis_entries
    WHERE isfinite(seconds)
      AND (kind = 'total' OR $buckets IS NULL OR list_contains($buckets, bucket))
    GROUP BY kind, bucket
    UNION ALL
    -- the total's row when no run has a finite total_time_s (or there is no run)
    SELECT 'total', 'total_time_s', []::DOUBLE[]
    WHERE NOT EXISTS (SELECT 1 FROM mantis_entries WHERE kind = 'total' AND isfinite(seconds))
)
SELECT kind, bucket, len(sample) AS n,
       CASE WHEN kind = 'total' THEN (
           SELECT count(*)
           FROM mantis_candidates
           WHERE run_id IS NOT NULL
             AND ($status IS NULL OR status = $status)
       ) END AS run_count,
       [mantis_quantile_sorted(sample, 0.5), mantis_quantile_sorted(sample, 0.95),
        mantis_quantile_sorted(sample, 0.99)] AS q
FROM samples
ORDER BY kind, bucket;
