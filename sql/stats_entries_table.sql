-- stats_entries_table: scratch table for one `stats` call: every sample value of the runs the
-- percentiles use, one row each. kind = 'total' for a run's total_time_s (bucket
-- 'total_time_s'), 'bucket' for an entry of its wall-time breakdown. Filled by
-- stats_fetch_part_entries (Parquet rows, unnested as they are read: no MAP is materialised) and
-- stats_candidate_entries (everything else), then read by stats_percentiles.
CREATE OR REPLACE TEMP TABLE mantis_entries (
    kind    VARCHAR,
    bucket  VARCHAR,
    seconds DOUBLE
);
