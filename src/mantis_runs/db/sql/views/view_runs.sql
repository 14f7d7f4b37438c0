-- runs: one typed row per run, across live and sealed JSONL shards and compacted Parquet.
-- Inputs are session variables set by mantis (bound values, or literals in `mantis runs views`):
--   mantis_jsonl_files, mantis_parquet_files: file lists (each always has a placeholder file);
--   mantis_scalars, mantis_wall, mantis_cost, mantis_known: the row schema, derived from
--   schema.py (mantis_view_jsonl_rows);
--   mantis_shared_ids: the run_ids with more than one copy among the store's Parquet files;
--   mantis_clean_files: Parquet files whose footers prove they hold no contested run_id and no
--   NULL one (db/view_reads.py; only the placeholder when nothing is proven).
-- Timestamps are TIMESTAMPTZ (UTC), the breakdowns are MAP(VARCHAR, DOUBLE) (mantis_part_rows
-- rebuilds the wall-time one from the Parquet layout's two columns), and the keys beyond
-- the schema are in `extra` (JSON): extra->>'host'. Bad lines are not rows (see runs_bad_lines).
-- A run_id that appears more than once is one row: the copy that wins by the copy order
-- (fragments/copy_order.sql), the rule every reader and compaction share.
--
-- Without ranking the whole history: a Parquet row passes through as it is unless its run_id
-- is "contested", i.e. may have another copy: a run_id of a good JSONL line (JSONL shards have
-- no uniqueness at all), or one of mantis_shared_ids, the run_ids that occur more than once
-- among the store's Parquet files, within one file or across files (db/shared_ids.py counts
-- every row of every part and checkpoint; it is a superset, never a guess from how compaction
-- writes). Every copy of a contested run_id, and every row without a run_id, is ranked below
-- with the same window as before, so each run_id still has exactly its winning copy. Nothing
-- else is sorted, so a query that reads few columns reads only those (projection pushdown),
-- and filters on finished_at or workflow_id still prune row groups. The files of
-- mantis_clean_files are the rows of the first branch known before any query: they pass
-- through with no filter at all, so count(*) comes from their footers and a query that does not
-- name run_id does not read it.
CREATE OR REPLACE TEMP VIEW runs AS
SELECT * REPLACE (CAST(extra AS JSON) AS extra)
FROM (
    -- the Parquet files proven to hold no contested run_id: as they are, unfiltered
    SELECT *
    FROM mantis_part_rows(getvariable('mantis_clean_files'))
    UNION ALL BY NAME
    -- the Parquet rows whose run_id has no other copy: as they are
    SELECT *
    FROM mantis_part_rows(getvariable('mantis_parquet_files'))
    WHERE run_id NOT IN (
        SELECT run_id
        FROM mantis_contested_ids(getvariable('mantis_jsonl_files'),
                                  getvariable('mantis_shared_ids')))
    UNION ALL BY NAME
    -- every copy of the other run_ids, and rows without one: ranked
    SELECT *
    FROM (
        SELECT p.*
        FROM mantis_part_rows(getvariable('mantis_parquet_files')) AS p,
             (SELECT min(run_id) AS lo, max(run_id) AS hi
              FROM mantis_contested_ids(getvariable('mantis_jsonl_files'),
                                        getvariable('mantis_shared_ids'))) AS bounds
        -- the bounds let row-group statistics skip the rest (run_ids carry their date)
        WHERE p.run_id BETWEEN bounds.lo AND bounds.hi
          AND p.run_id IN (
              SELECT run_id
              FROM mantis_contested_ids(getvariable('mantis_jsonl_files'),
                                        getvariable('mantis_shared_ids')))
        UNION ALL BY NAME
        SELECT *
        FROM mantis_part_rows(getvariable('mantis_parquet_files'))
        WHERE run_id IS NULL
        UNION ALL BY NAME
        SELECT *
        FROM mantis_view_jsonl_rows(
            getvariable('mantis_jsonl_files'),
            getvariable('mantis_scalars'),
            getvariable('mantis_wall'),
            getvariable('mantis_cost'),
            getvariable('mantis_known'))
    )
    QUALIFY row_number() OVER (
        PARTITION BY run_id
        ORDER BY @copy_order@
    ) = 1
);
