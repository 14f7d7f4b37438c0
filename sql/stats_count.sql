-- stats_count: how many distinct runs mantis_candidates holds so far (a run_id seen twice counts
-- once). The caller stops reading older months once this reaches --last.
SELECT count(DISTINCT run_id) AS runs
FROM mantis_candidates
WHERE run_id IS NOT NULL;
