-- run_events_bad_lines: malformed lines per events shard (torn, garbage, non-object, no run_id,
-- type or ts: mantis_bad_event). In the live month a count of 1 can be a line being written.
-- Events parts have none (compaction quarantined them: events_log/quarantine/).
CREATE OR REPLACE TEMP VIEW run_events_bad_lines AS
SELECT parse_filename(filename) AS shard, count(*) AS lines
FROM read_ndjson_objects(list_filter(getvariable('mantis_event_files'),
                                     lambda f: NOT suffix(f, '.parquet')),
                         ignore_errors = true, filename = true)
WHERE mantis_bad_event(json)
GROUP BY ALL
ORDER BY shard;
