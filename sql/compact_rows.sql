-- compact_rows: the rows of a month's next Parquet generation when the month has no part yet:
-- the good rows of the sealed shard(s) $files, one per run_id.
-- The copy kept for a duplicated run_id is the one the stats reader keeps: latest finished_at,
-- then largest total_time_s.
SELECT *
FROM mantis_sealed_rows($files, $structure, $known)
QUALIFY row_number() OVER (
    PARTITION BY run_id
    ORDER BY finished_at DESC NULLS LAST, total_time_s DESC NULLS LAST
) = 1;
