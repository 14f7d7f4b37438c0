-- stats_drop_rivals: once every needed file is read and run_ids are deduplicated, remove the
-- rows of other workflows: each is either a losing copy already gone or a run that is not this
-- workflow's. Malformed-line rows (run_id IS NULL) stay, to be counted per shard.
-- Parameters: $workflow_id.
DELETE FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND workflow_id IS DISTINCT FROM $workflow_id;
