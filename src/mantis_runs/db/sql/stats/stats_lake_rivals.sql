-- stats_lake_rivals: copies under other workflows, in some month partitions of the lake
-- (mantis_lake), of the workflow's runs in mantis_candidates gathered at step $min_step or later
-- (NULL: every run), added as rivals (no breakdown; see stats_rivals).
-- Rivals before $since are not needed: they lose to every copy the since filter keeps.
-- $lo and $hi (the smallest and largest such run_id) let the scan skip files by their run_id
-- statistics.
-- Parameters: $months, $undated, $workflow_id, $since, $step, $min_step, $lo, $hi.
INSERT INTO mantis_candidates BY NAME
SELECT @stats_rival_columns@, true AS jsonl
FROM mantis_lake
WHERE (list_contains($months, month) OR ($undated AND month IS NULL))
  AND @stats_rival_of@
  );
