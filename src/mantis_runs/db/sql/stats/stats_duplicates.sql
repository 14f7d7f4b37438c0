-- stats_duplicates: how many extra copies of run_ids mantis_candidates holds (0 almost always,
-- so the dedupe pass is skipped). Runs after each batch of months.
SELECT count(run_id) - count(DISTINCT run_id) AS extra_copies
FROM mantis_candidates;
