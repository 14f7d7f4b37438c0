-- shared_ids: the hashes of run_ids that occur more than once across the Parquet files $files.
-- Compaction keeps one row per run_id in each file, so these are the runs with copies in two or
-- more files (parts of different months, or a part and the live month's checkpoint): the only
-- Parquet rows whose copy in another Parquet file may win (the copy order (fragments/copy_order.sql)). Almost always
-- empty. Hashes, not text: a 10M-row history groups 80 MB of keys instead of its run_ids, and a
-- rare collision only makes a reader check one more run.
-- Parameters: $files (VARCHAR[]).
SELECT h
FROM (SELECT hash(run_id) AS h FROM read_parquet($files) WHERE run_id IS NOT NULL)
GROUP BY h
HAVING count(*) > 1
ORDER BY h;
