-- run_events_bad_lines: malformed lines per events shard (torn, garbage, non-object, no run_id,
-- type or ts: mantis_bad_event). In the live month a count of 1 can be a line being written.
-- Events parts have none (compaction quarantined them: events_log/quarantine/). A live shard
-- read as its checkpoint plus a copy of its tail (named as the shard) adds the checkpointed
-- bytes' count from the manifest (session variables mantis_checked_event_shards and
-- mantis_checked_event_lines, in step; empty when the shard is read whole).
CREATE OR REPLACE TEMP VIEW run_events_bad_lines AS
SELECT shard, CAST(coalesce(counted.lines, 0) + coalesce(checked.lines, 0) AS BIGINT) AS lines
FROM (
    SELECT parse_filename(filename) AS shard, count(*) AS lines
    FROM read_ndjson_objects(list_filter(getvariable('mantis_event_files'),
                                         lambda f: NOT suffix(f, '.parquet')),
                             ignore_errors = true, filename = true)
    WHERE mantis_bad_event(json)
    GROUP BY ALL
) AS counted
FULL JOIN (
    SELECT unnest(getvariable('mantis_checked_event_shards')) AS shard,
           unnest(getvariable('mantis_checked_event_lines')) AS lines
) AS checked USING (shard)
ORDER BY shard;
