-- stats_rivals: copies under other workflows, in the Parquet files $files, of the runs in
-- mantis_candidates that may have one there, added as rivals (no breakdown).
-- A run may have a rival in a Parquet file when its own row came from JSONL (any file may then
-- hold another copy), or when its run_id is among $shared: compaction keeps one row per run_id
-- in each Parquet file, so a Parquet row's other copies in Parquet are in other files, and
-- shared_ids lists every run_id with copies in two files. Rivals before $since are not needed:
-- they lose to every copy the since filter keeps (the copy order (fragments/copy_order.sql) ranks by finished_at first).
-- Parameters: $files, $workflow_id, $since, $step (for the new rows), $min_step (only runs
-- gathered at that step or later; NULL: every run), $shared, $lo and $hi (stats_rival_range).
INSERT INTO mantis_candidates BY NAME
SELECT @stats_rival_columns@, false AS jsonl
FROM read_parquet($files)
WHERE @stats_rival_of@
        AND (jsonl OR list_contains($shared, hash(run_id)))
  );
