-- compact_rows_merge: the rows of a month's next Parquet generation when it already has one:
-- every row of the current part $previous plus the good rows of the sealed shard(s) $files,
-- one per run_id (the same choice as compact_rows).
SELECT *
FROM (
    SELECT * FROM read_parquet($previous)
    UNION ALL BY NAME
    SELECT * FROM mantis_sealed_rows($files, $structure, $known)
)
QUALIFY row_number() OVER (
    PARTITION BY run_id
    ORDER BY finished_at DESC NULLS LAST, total_time_s DESC NULLS LAST
) = 1;
