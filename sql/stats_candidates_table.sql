-- stats_candidates_table: scratch table for one `stats` call.
-- Holds the rows of the requested workflow that pass the since filter, gathered month by month
-- (newest first), plus one all-NULL row per malformed JSONL line (run_id IS NULL) so the skipped
-- lines can be counted per shard from the same scan. The status filter is applied after run_ids
-- are deduplicated, so a run recorded twice with different statuses counts as its latest copy.
-- The breakdown of a JSONL row is kept in one of two forms, whichever is cheaper to get:
--   breakdown  - the JSON text, when every key is one of the known buckets (almost always);
--   bucket_map - a MAP otherwise.
-- (DuckDB 2.0 casts JSON to MAP slowly; a struct of known buckets is several times faster.)
-- A Parquet row keeps only where it is (part_file, part_row): decoding its breakdown MAP costs
-- more than everything else, so stats_fetch_part_entries reads it for the runs that are kept only.
CREATE OR REPLACE TEMP TABLE mantis_candidates (
    source       VARCHAR,
    run_id       VARCHAR,
    status       VARCHAR,
    finished_at  TIMESTAMPTZ,
    total_time_s DOUBLE,
    breakdown    JSON,
    bucket_map   MAP(VARCHAR, DOUBLE),
    part_file    VARCHAR,
    part_row     BIGINT
);
