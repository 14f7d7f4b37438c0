-- stats_whole_other: p50/p95/p99 of the buckets with names outside the known ones (rare, and
-- small samples) over the runs of a whole-history `stats`, as stats_percentiles computes them.
-- Parameters: $files, $workflow_id, $since, $status, $known (the known bucket names),
--             $buckets (VARCHAR[] or NULL = all), $quantiles (the reported fractions),
--             $with_sample (true: each row also carries its sorted sample, for intervals).
-- Result: as stats_percentiles (kind 'bucket' only, grp NULL).
WITH samples AS (
    SELECT bucket, count(seconds) AS n, list_sort(list(seconds)) AS sample
    FROM (
        SELECT unnest(map_keys(other)) AS bucket, unnest(map_values(other)) AS seconds
        FROM mantis_whole_rows($files, $workflow_id, $since)
        WHERE other IS NOT NULL
          AND ($status IS NULL OR status = $status)
    )
    WHERE NOT list_contains($known, bucket)
      AND mantis_finite(seconds) IS NOT NULL  -- NULL, NaN and infinities are not samples
      AND ($buckets IS NULL OR list_contains($buckets, bucket))
    GROUP BY bucket
)
SELECT NULL::VARCHAR AS grp, 'bucket' AS kind, bucket, n, NULL AS run_count,
       mantis_percentiles(sample, $quantiles) AS q,
       CASE WHEN $with_sample THEN sample END AS sample
FROM samples
ORDER BY bucket;
