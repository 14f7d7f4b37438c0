-- mantis_breakdown(known, other): the breakdown MAP of a Parquet row again: the non-NULL fields
-- of the `known` struct (in bucket order), then the `other` entries. NULL when the row had no
-- breakdown object (both are NULL then).
CREATE OR REPLACE TEMP MACRO mantis_breakdown(known, other) AS
    CASE WHEN known IS NOT NULL OR other IS NOT NULL THEN
        map_from_entries(list_concat(
            list_filter(map_entries(CAST(known AS MAP(VARCHAR, DOUBLE))),
                        lambda e: e.value IS NOT NULL),
            coalesce(map_entries(other), [])))
    END;
