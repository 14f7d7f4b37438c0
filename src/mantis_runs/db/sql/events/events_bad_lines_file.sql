-- events_bad_lines_file: how many lines of one events file cannot be run events
-- (mantis_bad_event), the count run_events_bad_lines gives that file; db/views.py
-- `event_bad_lines` keeps it per file in the user's cache for the reads' warnings.
-- Parameters: $file (VARCHAR, as duckdb_path gives it).
SELECT count(*)
FROM read_ndjson_objects($file, ignore_errors = true)
WHERE mantis_bad_event(json);
