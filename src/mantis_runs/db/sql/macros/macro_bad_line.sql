-- mantis_bad_line(j): true for a JSONL line that cannot be a run row.
-- `j` is a line from read_ndjson_objects(..., ignore_errors = true): NULL when it does not parse.
-- A line is bad when it does not parse, is not an object, or has no usable run_id; this is the
-- same rule by which the stats reader drops a line (its run_id comes back NULL).
CREATE OR REPLACE TEMP MACRO mantis_bad_line(j) AS
    j IS NULL
    OR json_type(j) <> 'OBJECT'
    OR json_transform(j, '{"run_id": "VARCHAR"}').run_id IS NULL;
