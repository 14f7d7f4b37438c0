-- stats_candidates_table: scratch table for one `stats` call.
-- Holds, gathered batch by batch (newest months first):
--   * the rows of the requested workflow that pass the since filter, with their breakdowns;
--   * rivals: copies of the same runs under other workflows (no breakdown), which take part in
--     the run_id dedupe (stats_dedupe) and are dropped before counting: a run whose winning copy
--     is under another workflow is not a run of this one;
--   * one all-NULL row per malformed JSONL line (run_id IS NULL), so the skipped lines can be
--     counted per shard from the same scan.
-- The status filter is applied after run_ids are deduplicated, so a run recorded twice with
-- different statuses counts as its winning copy.
-- The breakdown is kept as in the Parquet layout (docs/storage-format.md):
--   known - the nine known buckets as a struct of DOUBLEs (json_transform structure $known_struct);
--   other - a MAP holding at least the entries with other names (NULL when there are none).
-- `step` numbers the collection steps; `jsonl` marks rows read from JSONL (see stats_rivals).
-- The run's attributes (model, plan_signature, profile_id, tenant_id) are kept for the
-- workflow's rows, for readers that narrow or group by them (compare).
-- Parameters: $known_struct.
CREATE OR REPLACE TEMP TABLE mantis_candidates AS
SELECT
    NULL::VARCHAR AS source,
    NULL::VARCHAR AS run_id,
    NULL::VARCHAR AS workflow_id,
    NULL::VARCHAR AS status,
    NULL::TIMESTAMPTZ AS finished_at,
    NULL::DOUBLE AS total_time_s,
    json_transform('{}', $known_struct) AS known,  -- (a NULL argument would give type NULL)
    NULL::MAP(VARCHAR, DOUBLE) AS other,
    NULL::VARCHAR AS model,
    NULL::VARCHAR AS plan_signature,
    NULL::VARCHAR AS profile_id,
    NULL::VARCHAR AS tenant_id,
    NULL::INTEGER AS step,
    NULL::BOOLEAN AS jsonl
LIMIT 0;
