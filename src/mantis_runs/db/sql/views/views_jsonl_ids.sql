-- views_jsonl_ids: the distinct run_ids of the JSONL lines of $files, as the runs view contests
-- them (mantis_contested_ids: every line with a run_id, bad or not), sorted. Read once per file
-- that cannot change (a private tail copy, a sealed shard) to decide which Parquet files hold
-- none of them (db/view_reads.py).
-- Parameters: $files (VARCHAR[]).
SELECT DISTINCT run_id
FROM mantis_contested_ids($files, CAST([] AS VARCHAR[]))
ORDER BY run_id;
