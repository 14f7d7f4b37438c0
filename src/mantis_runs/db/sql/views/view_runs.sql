-- runs: one typed row per run, across live and sealed JSONL shards and compacted Parquet.
-- Inputs are session variables set by mantis (bound values, or literals in `mantis runs views`):
--   mantis_jsonl_files, mantis_parquet_files: file lists (each always has a placeholder file);
--   mantis_structure, mantis_known: the row schema, derived from schema.py.
-- Timestamps are TIMESTAMPTZ (UTC), the breakdowns are MAP(VARCHAR, DOUBLE) (mantis_part_rows
-- rebuilds the wall-time one from the Parquet layout's two columns), and the keys beyond
-- the schema are in `extra` (JSON): extra->>'host'. Bad lines are not rows (see runs_bad_lines).
-- A run_id that appears more than once is one row: the copy that wins by the copy order (fragments/copy_order.sql), the
-- rule every reader and compaction share.
CREATE OR REPLACE TEMP VIEW runs AS
SELECT * REPLACE (CAST(extra AS JSON) AS extra)
FROM (
    SELECT *
    FROM mantis_sealed_rows(
        getvariable('mantis_jsonl_files'),
        getvariable('mantis_structure'),
        getvariable('mantis_known'))
    UNION ALL BY NAME
    SELECT * FROM mantis_part_rows(getvariable('mantis_parquet_files'))
)
QUALIFY row_number() OVER (
    PARTITION BY run_id
    ORDER BY @copy_order@
) = 1;
