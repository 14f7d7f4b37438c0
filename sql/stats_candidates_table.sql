-- stats_candidates_table: scratch table for one `stats` call.
-- Holds the rows of the requested workflow that pass the status/since filters, gathered month by
-- month (newest first), plus one all-NULL row per malformed JSONL line (run_id IS NULL) so the
-- skipped lines can be counted per shard from the same scan.
CREATE OR REPLACE TEMP TABLE mantis_candidates (
    source              VARCHAR,
    run_id              VARCHAR,
    finished_at         TIMESTAMPTZ,
    total_time_s        DOUBLE,
    wall_time_breakdown MAP(VARCHAR, DOUBLE)
);
