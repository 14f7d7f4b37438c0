-- mantis_bad_event(j): true for a line of an events shard that cannot be a run event.
-- `j` is a line from read_ndjson_objects(..., ignore_errors = true): NULL when it does not parse.
-- A line is bad when it does not parse, is not an object, or lacks a usable run_id (not null,
-- not ""; a number is read as its text), type (not null, not "") or ts (text DuckDB reads as a
-- timestamp), or has a `fields` that is not an object (none or null is {}). Other lines are
-- events, whatever their type (docs/events.md). Each key is read by ->> (one path each: far
-- cheaper than json_transform to a struct with a timestamp, measured on 2 months of events).
CREATE OR REPLACE TEMP MACRO mantis_bad_event(j) AS
    j IS NULL
    OR json_type(j) <> 'OBJECT'
    OR coalesce(j ->> 'run_id', '') = ''
    OR coalesce(j ->> 'type', '') = ''
    OR try_cast(j ->> 'ts' AS TIMESTAMPTZ) IS NULL
    OR coalesce(json_type(j, '$.fields'), 'NULL') NOT IN ('OBJECT', 'NULL');
