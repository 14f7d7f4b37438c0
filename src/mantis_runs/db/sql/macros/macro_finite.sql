-- mantis_finite(x): x when it is a finite number, else NULL. NaN and +-infinity (only
-- hand-written lines have them) are no duration: they are never samples, and a total that is
-- not finite ranks as none (see the copy order (fragments/copy_order.sql)).
CREATE OR REPLACE TEMP MACRO mantis_finite(x) AS
    CASE WHEN isfinite(x) THEN x END;
