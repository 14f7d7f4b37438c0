-- lookup_copies: the runs with these run_ids, from the given files alone, as the runs view shows
-- them (view_runs.sql's ranked branch: the same typing macros, mantis_part_rows and
-- mantis_view_jsonl_rows over the schema's session variables, and the same copy order): each
-- run's winning copy among every copy these files hold, one row per run. The point lookups
-- (store/lookup.py) give it the files that may hold the runs: the parts and checkpoints their
-- footers do not rule out, and a private file of the JSONL lines that hold the run_ids' bytes.
-- (lookup_copies_parts and lookup_copies_lines: the same with one side only.)
-- Parameters: $parquet, $jsonl (VARCHAR[], each ending with its placeholder file), $run_ids
--             (VARCHAR[]).
SELECT * REPLACE (CAST(extra AS JSON) AS extra)
FROM (
    SELECT *
    FROM (@lookup_part_copies@ UNION ALL BY NAME @lookup_line_copies@)
    QUALIFY row_number() OVER (
        PARTITION BY run_id
        ORDER BY @copy_order@
    ) = 1
);
