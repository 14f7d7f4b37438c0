-- stats_count: how many runs with status $status (NULL = any) mantis_candidates holds so far,
-- counting only those with finished_at >= $at_least (text, as from stats_cutoff) unless NULL.
-- Runs once stats_dedupe has left one copy per run_id. The caller stops reading older months once
-- this reaches --last (older months only hold older copies, which never win the dedupe).
SELECT count(*) AS runs
FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND ($status IS NULL OR status = $status)
  AND ($at_least IS NULL OR finished_at >= CAST($at_least AS TIMESTAMPTZ));
