-- stats_count: how many runs with status $status (NULL = any) mantis_candidates holds so far.
-- Runs once stats_dedupe has left one copy per run_id. The caller stops reading older months once
-- this reaches --last (older months only hold older copies, which never win the dedupe).
SELECT count(*) AS runs
FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND ($status IS NULL OR status = $status);
