-- shared_run_ids: the run_ids (as text) whose hash is one of $hashes (from shared_ids.sql) in the
-- Parquet files $files: every run_id with copies in two or more of them, plus, on a hash
-- collision, a run_id that only shares its hash. The views route these runs' Parquet rows
-- through their dedupe (view_runs.sql); a text list lets DuckDB find them by row-group
-- statistics, where a hash would need every run_id read and hashed.
-- Parameters: $files (VARCHAR[]), $hashes (UBIGINT[]).
SELECT DISTINCT run_id
FROM read_parquet($files)
WHERE hash(run_id) IN (SELECT unnest($hashes))
ORDER BY run_id;
