-- stats_entries_table: scratch table for one `stats` call: the (bucket, seconds) entries of the
-- breakdowns of the Parquet rows that the percentiles use, one row per entry (filled by
-- stats_fetch_part_entries or stats_fetch_part_entries_all; empty when no Parquet was read).
-- Unnested as they are read, so no MAP is ever materialised. JSONL rows' entries are read from
-- mantis_candidates by stats_percentiles itself.
CREATE OR REPLACE TEMP TABLE mantis_entries (
    bucket  VARCHAR,
    seconds DOUBLE
);
