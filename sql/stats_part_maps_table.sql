-- stats_part_maps_table: scratch table for one `stats` call: the breakdown MAPs of the Parquet
-- rows that the percentiles use (filled by stats_fetch_part_maps; empty when no Parquet was read).
CREATE OR REPLACE TEMP TABLE mantis_part_maps (
    bucket_map MAP(VARCHAR, DOUBLE)
);
