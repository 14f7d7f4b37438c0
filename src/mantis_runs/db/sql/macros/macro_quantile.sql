-- mantis_quantile(values, q): numpy's default percentile of a list, bit for bit, e.g.
--   SELECT bucket, mantis_quantile(list(seconds), 0.95) FROM run_buckets GROUP BY bucket;
-- NULL, NaN and infinite values are left out (numpy would return NaN); q is in [0, 1].
CREATE OR REPLACE TEMP MACRO mantis_quantile(l, q) AS
    mantis_quantile_sorted(list_sort(list_filter(l, lambda x: isfinite(x))), q);
