-- mantis_event_rows(files): the good lines of events shards as typed events (mantis_event_of):
-- run_id, type, ts (TIMESTAMPTZ), fields (JSON), file (the file's name) and seq (the line's
-- place in what was read: in file order within a file). Bad lines are left out
-- (mantis_bad_event).
CREATE OR REPLACE TEMP MACRO mantis_event_rows(files) AS TABLE
SELECT unnest(mantis_event_of(json)), parse_filename(filename) AS file, seq
FROM read_ndjson_objects(files, ignore_errors = true, filename = true)
     WITH ORDINALITY AS lines(json, filename, seq)
WHERE NOT mantis_bad_event(json);
