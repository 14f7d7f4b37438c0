-- lookup_copies_lines: lookup_copies when no Parquet file may hold the runs: the same answer from
-- the JSONL files alone, without binding the Parquet side (about 5 ms a query).
-- Parameters: $jsonl (VARCHAR[], ending with its placeholder file), $run_ids (VARCHAR[]).
SELECT * REPLACE (CAST(extra AS JSON) AS extra)
FROM (
    SELECT *
    FROM (@lookup_line_copies@)
    QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY @copy_order@) = 1
);
