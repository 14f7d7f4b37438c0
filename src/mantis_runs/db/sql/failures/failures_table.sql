-- failures_table: scratch table of one workflow's failed runs for `mantis runs failures`
-- (analysis/failures.py), grouped as they are read: per error text and ISO week
-- (mantis_week_start), how many failed dated runs since --since (their winning copies), and
-- their first and last finished_at in microseconds since the epoch. Filled by failures_chosen
-- (the general path: every copy gathered and ranked by the stats engine) or by failures_chosen
-- and failures_whole_parquet together (run_ids proven never to repeat: the Parquet rows read
-- in place); a text and week may then have a row from each; failures_groups adds them up.
CREATE OR REPLACE TEMP TABLE mantis_failed AS
SELECT
    NULL::VARCHAR AS error,
    NULL::BIGINT AS week,
    NULL::BIGINT AS runs,
    NULL::BIGINT AS first_us,
    NULL::BIGINT AS last_us
LIMIT 0;
