-- mantis_bad_line(j): true for a JSONL line that cannot be a run row.
-- `j` is a line from read_ndjson_objects(..., ignore_errors = true): NULL when it does not parse.
-- A line is bad when it does not parse, is not an object, or has no usable run_id: none, null,
-- or "" (the writer never writes an empty run_id: it makes one up); this is the same rule by
-- which the stats reader (stats_collect_jsonl) and compaction's id pass (compact_ids) drop a
-- line: its run_id, read as VARCHAR, is NULL or ''.
CREATE OR REPLACE TEMP MACRO mantis_bad_line(j) AS
    j IS NULL
    OR json_type(j) <> 'OBJECT'
    OR coalesce(json_transform(j, '{"run_id": "VARCHAR"}').run_id, '') = '';
