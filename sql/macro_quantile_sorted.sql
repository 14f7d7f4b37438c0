-- mantis_quantile_sorted(sorted_values, q): numpy's default percentile (method 'linear'), bit
-- for bit. `sorted_values` must be a sorted list of finite DOUBLEs (no NULL, NaN or infinity);
-- q is a fraction in [0, 1]. mantis_quantile wraps it for any list.
-- quantile_cont agrees with numpy only to about one ulp (it interpolates as lo*(1-t) + hi*t);
-- numpy computes a + (b-a)*t, or b - (b-a)*(1-t) once t >= 0.5, at index (n-1)*q. So does this.
CREATE OR REPLACE TEMP MACRO mantis_quantile_sorted(l, q) AS
    CASE
        WHEN len(l) = 0 THEN NULL
        WHEN ((len(l) - 1)::DOUBLE * q) - floor((len(l) - 1)::DOUBLE * q) >= 0.5 THEN
            l[least(floor((len(l) - 1)::DOUBLE * q)::BIGINT + 2, len(l))]
            - (l[least(floor((len(l) - 1)::DOUBLE * q)::BIGINT + 2, len(l))]
               - l[floor((len(l) - 1)::DOUBLE * q)::BIGINT + 1])
              * (1 - (((len(l) - 1)::DOUBLE * q) - floor((len(l) - 1)::DOUBLE * q)))
        ELSE
            l[floor((len(l) - 1)::DOUBLE * q)::BIGINT + 1]
            + (l[least(floor((len(l) - 1)::DOUBLE * q)::BIGINT + 2, len(l))]
               - l[floor((len(l) - 1)::DOUBLE * q)::BIGINT + 1])
              * (((len(l) - 1)::DOUBLE * q) - floor((len(l) - 1)::DOUBLE * q))
    END;
