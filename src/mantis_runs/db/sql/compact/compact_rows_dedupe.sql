-- compact_rows_dedupe: as compact_rows, when mantis_ids lists run_ids present more than once.
-- Rows whose run_id is unique stream through; only the repeated ones are ranked, and the copy
-- kept is the one every reader keeps (the copy order (fragments/copy_order.sql)).
SELECT * FROM read_parquet($previous)
WHERE run_id NOT IN (SELECT run_id FROM mantis_ids WHERE total_row = 0 AND run_id IS NOT NULL)
UNION ALL BY NAME
SELECT * FROM mantis_stored_rows($files, $structure, $known, $known_struct, $known_names)
WHERE run_id NOT IN (SELECT run_id FROM mantis_ids WHERE total_row = 0 AND run_id IS NOT NULL)
UNION ALL BY NAME
SELECT * FROM (
    SELECT * FROM read_parquet($previous)
    WHERE run_id IN (SELECT run_id FROM mantis_ids WHERE total_row = 0)
    UNION ALL BY NAME
    SELECT * FROM mantis_stored_rows($files, $structure, $known, $known_struct, $known_names)
    WHERE run_id IN (SELECT run_id FROM mantis_ids WHERE total_row = 0)
)
QUALIFY row_number() OVER (
    PARTITION BY run_id
    ORDER BY @copy_order@
) = 1;
