-- failures_chosen: the workflow's failed dated runs among mantis_candidates (their winning
-- copies, mantis_winning_details with status 'failed'), into mantis_failed, per error text and
-- week. On the in-place path the candidates hold only the JSONL rows (failures_whole_parquet
-- adds the Parquet ones).
-- Parameters: $workflow_id.
INSERT INTO mantis_failed BY NAME
SELECT @failed_groups@
FROM mantis_winning_details('failed', NULL, $workflow_id)
GROUP BY error, week;
