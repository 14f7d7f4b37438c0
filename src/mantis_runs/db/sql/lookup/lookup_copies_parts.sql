-- lookup_copies_parts: lookup_copies when no JSONL line may hold the runs: the same answer from
-- the Parquet files alone, without binding the JSONL side (about 7 ms a query).
-- Parameters: $parquet (VARCHAR[], ending with its placeholder file), $run_ids (VARCHAR[]).
SELECT * REPLACE (CAST(extra AS JSON) AS extra)
FROM (
    SELECT *
    FROM (@lookup_part_copies@)
    QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY @copy_order@) = 1
);
