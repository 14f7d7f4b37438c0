-- stats_details_table: scratch table for the details of a workflow's runs (Collector.rows with
-- details: run_id, error and extra of each run's winning copy). The candidates table does not
-- hold error and extra, so that `stats` and `compare` never read them; when details are asked,
-- the files already read are searched again for the copies of the chosen runs
-- (stats_details_parquet, stats_details_jsonl), and stats_rows_details ranks them by the copy
-- order. Holds the columns the copy order ranks by, then error and extra (JSON text of the keys
-- beyond the schema; NULL when there are none).
CREATE OR REPLACE TEMP TABLE mantis_details AS
SELECT
    NULL::VARCHAR AS run_id,
    NULL::VARCHAR AS workflow_id,
    NULL::VARCHAR AS status,
    NULL::TIMESTAMPTZ AS finished_at,
    NULL::DOUBLE AS total_time_s,
    NULL::VARCHAR AS error,
    NULL::VARCHAR AS extra
LIMIT 0;
