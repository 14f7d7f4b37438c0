-- run_events: one typed row per run event (docs/events.md), across the events shards
-- (events_log/YYYY-MM.jsonl) and events parts (events_log/compacted/) listed in the session
-- variable mantis_event_files (set by mantis; it always ends with the empty placeholders).
-- Join it with `runs` on run_id.
-- fields is JSON: fields->>'progress'. month is the month of the file the event is in (the
-- month of its ts, as the writer files it). Bad lines are not rows (see run_events_bad_lines).
CREATE OR REPLACE TEMP VIEW run_events AS
SELECT run_id, type, ts, fields, left(file, 7) AS month, file
FROM mantis_event_rows(getvariable('mantis_event_files'));
