-- mantis_event_rows(files): the events of `files` as typed events (mantis_event_of): run_id,
-- type, ts (TIMESTAMPTZ), fields (JSON), file (the file's name) and seq (the line's place in
-- what was read: in file order within a file). `files` mixes JSONL shards and events parts
-- (*.parquet, events_log/compacted/): each list must hold one of each kind (the empty
-- placeholders: views.event_list). Bad lines are left out (mantis_bad_event); a part has none
-- (compaction quarantined them); its rows are mantis_event_parts'.
CREATE OR REPLACE TEMP MACRO mantis_event_rows(files) AS TABLE
SELECT unnest(mantis_event_of(json)), parse_filename(filename) AS file, seq
FROM read_ndjson_objects(list_filter(files, lambda f: NOT suffix(f, '.parquet')),
                         ignore_errors = true, filename = true)
     WITH ORDINALITY AS lines(json, filename, seq)
WHERE NOT mantis_bad_event(json)
UNION ALL
SELECT * FROM mantis_event_parts(files);
