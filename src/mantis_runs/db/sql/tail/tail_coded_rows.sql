-- tail_coded_rows: the runs of mantis_tail_rows (macro_tail_rows) with each text (the four
-- attributes and the error text) as its hash (hash(NULL) for none), and the total and the
-- buckets NaN where NULL (no value either way for the caller): numbers only and no NULL, which
-- fetch as plain numpy columns, without a text object per run; tail_coded_texts gives each
-- hash's text.
-- Parameters: $files (VARCHAR[]), $workflow_id, $since (ISO text), $finished_before (ISO text),
-- $known (the known bucket names).
SELECT finished_us, succeeded, failed, has_other,
       hash(model) AS model, hash(plan_signature) AS plan_signature,
       hash(profile_id) AS profile_id, hash(tenant_id) AS tenant_id, hash(error) AS error,
       coalesce(COLUMNS(* EXCLUDE (finished_us, succeeded, failed, has_other, model,
                                   plan_signature, profile_id, tenant_id, error)), 'NaN'::DOUBLE)
FROM mantis_tail_rows($files, $workflow_id, $since, $finished_before, $known);
