-- mantis_percentiles(sorted_values, qs): the percentiles `qs` (a list of fractions, the
-- reported ones in Python's stats.result.QUANTILES) of a sorted list of finite DOUBLEs, each as
-- numpy computes it (mantis_quantile_sorted).
CREATE OR REPLACE TEMP MACRO mantis_percentiles(l, qs) AS
    list_transform(qs, lambda q: mantis_quantile_sorted(l, q));
