-- compact_rows: the rows of a month's next Parquet generation when no run_id repeats (the usual
-- case): the current part's rows (or none: $previous may be an empty placeholder) and the good
-- rows of the sealed shard $files in the Parquet layout (mantis_stored_rows), streamed with no
-- blocking operator, so memory stays flat. The Parquet writer clusters them by workflow.
-- Parameters: $previous, $files, and the schema arguments of mantis_stored_rows.
SELECT * FROM read_parquet($previous)
UNION ALL BY NAME
SELECT * FROM mantis_stored_rows($files, $structure, $known, $known_struct, $known_names);
