-- mantis_lerp(a, b, t): numpy's linear interpolation between a and b at fraction t in [0, 1], bit
-- for bit: a + (b-a)*t, or b - (b-a)*(1-t) once t >= 0.5 (numpy's _lerp). quantile_cont agrees
-- with numpy only to about one ulp (it computes lo*(1-t) + hi*t), so mantis's percentile macros
-- interpolate with this instead.
CREATE OR REPLACE TEMP MACRO mantis_lerp(a, b, t) AS
    CASE WHEN t >= 0.5 THEN b - (b - a) * (1 - t) ELSE a + (b - a) * t END;
