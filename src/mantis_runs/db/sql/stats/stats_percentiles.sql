-- stats_percentiles: p50/p95/p99 per wall-time bucket and for total_time_s over the runs in
-- mantis_candidates with status $status, finished before $finished_before (ISO text; NULL: no
-- upper bound): by now the newest --last of them (stats_keep_newest).
-- Parameters: $status (NULL = any), $finished_before, $buckets (VARCHAR[] or NULL = all),
--             $known (the names of the known buckets: the fields of `known`), $quantiles (the
--             reported fractions), $group_by (NULL, or an attribute: mantis_group_value),
--             $with_sample (true: each row also carries its sorted sample, for intervals).
-- * A run_id appears once here: stats_dedupe has removed extra copies when there were any.
-- * Percentiles are numpy's default (linear interpolation between closest ranks), bit for bit,
--   through the mantis_quantile_sorted macro over each sorted sample of finite DOUBLEs.
--   (For whole histories read in place, query.py selects the same numbers from
--   stats_whole_measures without sorting.)
-- * Known buckets come from the `known` struct, other names from the `other` map (which may
--   repeat known names: those entries are not read twice).
-- * A bucket missing from a run is absent from that bucket's sample, never zero: n says how many
--   runs had it. NaN and infinite values (only hand-written lines have them) are not samples.
-- Result: one row per group and bucket; kind = 'total' for total_time_s, 'bucket' otherwise;
-- grp is the group's value (NULL without $group_by, or for runs without the attribute).
WITH newest AS (
    SELECT mantis_group_value($group_by, model, plan_signature, profile_id, tenant_id) AS grp,
           total_time_s, known, other
    FROM mantis_chosen($status, $finished_before)
),
known_entries AS (
    -- one column per known bucket, then one row per non-NULL value (UNPIVOT drops NULLs)
    UNPIVOT (
        SELECT grp, unnest(known)
        FROM newest
        WHERE known IS NOT NULL
    )
    ON COLUMNS(* EXCLUDE (grp))
    INTO NAME bucket VALUE seconds
),
entries AS (
    SELECT grp, bucket, seconds FROM known_entries
    UNION ALL
    SELECT grp, bucket, seconds
    FROM (
        SELECT grp, unnest(map_keys(other)) AS bucket, unnest(map_values(other)) AS seconds
        FROM newest
        WHERE other IS NOT NULL
    )
    WHERE NOT list_contains($known, bucket)
),
samples AS (
SELECT grp,
       'total' AS kind,
       'total_time_s' AS bucket,
       count(total_time_s) AS n,
       count(*) AS run_count,
       list_sort(list(total_time_s) FILTER (WHERE total_time_s IS NOT NULL)) AS sample
FROM newest
GROUP BY grp
UNION ALL
SELECT grp,
       'bucket' AS kind,
       bucket,
       count(seconds) AS n,
       NULL AS run_count,
       list_sort(list(seconds)) AS sample
FROM entries
WHERE ($buckets IS NULL OR list_contains($buckets, bucket))
  AND mantis_finite(seconds) IS NOT NULL  -- NULL, NaN and infinities are not samples
GROUP BY grp, bucket
)
SELECT grp, kind, bucket, n, run_count,
       mantis_percentiles(sample, $quantiles) AS q,
       CASE WHEN $with_sample THEN sample END AS sample
FROM samples
ORDER BY grp NULLS LAST, kind, bucket;
