-- lookup_part_copies: the rows of the Parquet files $parquet (VARCHAR[], ending with its
-- placeholder) whose run_id is one of $run_ids, as the runs view shows them (mantis_part_rows):
-- the Parquet side of the point lookups' copies. Put in place of @lookup_part_copies@ by
-- lookup_copies and lookup_copies_parts.
SELECT *
FROM mantis_part_rows($parquet)
WHERE run_id IN (SELECT unnest($run_ids))
