-- compact_rows: the rows of a month's next Parquet generation when no run_id repeats (the usual
-- case): the current part's rows (or none: $previous may be an empty placeholder) and the good
-- rows of the sealed shard $files, streamed with no blocking operator, so memory stays flat.
SELECT * FROM read_parquet($previous)
UNION ALL BY NAME
SELECT * FROM mantis_sealed_rows($files, $structure, $known);
