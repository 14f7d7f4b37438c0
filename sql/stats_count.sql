-- stats_count: how many runs with status $status (NULL = any) mantis_candidates holds so far,
-- counting only those with finished_at >= $at_least (text, as from stats_cutoff) unless NULL.
-- Runs once stats_dedupe has left one copy per run_id. `dated` leaves out runs without a
-- finished_at (only hand-written lines lack one): they rank after every dated run, so the caller
-- stops reading older months once `dated` reaches --last (older months hold only older dated
-- runs, which never win the dedupe), and trims to --last when `runs` exceeds it.
SELECT count(*) AS runs, count(finished_at) AS dated
FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND ($status IS NULL OR status = $status)
  AND ($at_least IS NULL OR finished_at >= CAST($at_least AS TIMESTAMPTZ));
