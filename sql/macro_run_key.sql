-- mantis_run_key(run_id): the run_key column of the Parquet layout: the first 64 bits of the MD5
-- of the run_id (its first 16 hex digits, read as an unsigned integer). Equal run_ids have equal
-- keys, so "as many distinct keys as rows" proves that no run_id repeats; the converse does not
-- hold, and readers fall back to comparing run_ids when keys repeat. Python: schema.run_key().
CREATE OR REPLACE TEMP MACRO mantis_run_key(run_id) AS
    CAST('0x' || left(md5(run_id), 16) AS UBIGINT);
