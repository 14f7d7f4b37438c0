-- tail_coded_texts: every distinct text of the runs of mantis_tail_rows (macro_tail_rows), per
-- column (the four attributes and the error text), NULL included, with its hash as
-- tail_coded_rows computes it: (attribute, value, hash), sorted (NULL last) so that the order
-- of a column's values does not depend on the order the rows were read in. One grouping set
-- per column: in each, the other columns are NULL, so the coalesce is that column's text.
-- Parameters: as tail_coded_rows.
SELECT CASE WHEN grouping(model) = 0 THEN 'model'
            WHEN grouping(plan_signature) = 0 THEN 'plan_signature'
            WHEN grouping(profile_id) = 0 THEN 'profile_id'
            WHEN grouping(tenant_id) = 0 THEN 'tenant_id'
            ELSE 'error' END AS attribute,
       coalesce(model, plan_signature, profile_id, tenant_id, error) AS value,
       hash(coalesce(model, plan_signature, profile_id, tenant_id, error)) AS hash
FROM mantis_tail_rows($files, $workflow_id, $since, $finished_before, $known)
GROUP BY GROUPING SETS ((model), (plan_signature), (profile_id), (tenant_id), (error))
ORDER BY attribute, value NULLS LAST;
