-- mantis_quantile_sorted(sorted_values, q): numpy's default percentile (method 'linear'), bit
-- for bit. `sorted_values` must be a sorted list of finite DOUBLEs (no NULL, NaN or infinity);
-- q is a fraction in [0, 1]. mantis_quantile wraps it for any list.
-- Like numpy, it interpolates (mantis_lerp) between the values at ranks floor(h) and floor(h)+1,
-- where h = (n-1)*q.
CREATE OR REPLACE TEMP MACRO mantis_quantile_sorted(l, q) AS
    CASE
        WHEN len(l) = 0 THEN NULL
        -- numpy, at or past the last rank: both neighbours are the last value, weight h + 1
        -- (this keeps the sign of a lone -0.0)
        WHEN (len(l) - 1)::DOUBLE * q >= len(l) - 1 THEN
            mantis_lerp(l[len(l)], l[len(l)], (len(l) - 1)::DOUBLE * q + 1)
        ELSE mantis_lerp(
            l[floor((len(l) - 1)::DOUBLE * q)::BIGINT + 1],
            l[least(floor((len(l) - 1)::DOUBLE * q)::BIGINT + 2, len(l))],
            ((len(l) - 1)::DOUBLE * q) - floor((len(l) - 1)::DOUBLE * q))
    END;
