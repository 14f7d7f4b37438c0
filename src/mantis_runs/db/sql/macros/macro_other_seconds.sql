-- mantis_other_seconds(m, known_names): the entries of the breakdown MAP `m` that the Parquet
-- layout keeps outside the struct of known buckets: names not in `known_names`, and known names
-- whose value is NULL (a JSON null or a value that is not a number). NULL when there are none.
CREATE OR REPLACE TEMP MACRO mantis_other_seconds(m, known_names) AS
    CASE WHEN len(list_filter(map_entries(m),
                  lambda e: NOT list_contains(known_names, e.key) OR e.value IS NULL)) > 0
         THEN map_from_entries(list_filter(map_entries(m),
                  lambda e: NOT list_contains(known_names, e.key) OR e.value IS NULL))
    END;
