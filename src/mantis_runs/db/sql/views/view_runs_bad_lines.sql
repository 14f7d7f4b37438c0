-- runs_bad_lines: malformed lines per JSONL shard (torn, NUL, garbage, non-object, no run_id).
-- In the live month a count of 1 can be a line being written right now. A live shard read as
-- its checkpoint plus a copy of its tail (named as the shard) adds the checkpointed bytes' count
-- from the manifest (session variables mantis_checked_shards and mantis_checked_lines, in step).
-- A shard is named by its file name, or by its path when mantis_shard_paths is true (several
-- data dirs: messages.shard_name's rule, so the same month of two data dirs stays apart).
CREATE OR REPLACE TEMP VIEW runs_bad_lines AS
SELECT shard, CAST(sum(lines) AS BIGINT) AS lines
FROM (
    SELECT CASE WHEN coalesce(getvariable('mantis_shard_paths'), false) THEN filename
                ELSE parse_filename(filename) END AS shard, count(*) AS lines
    FROM read_ndjson_objects(getvariable('mantis_jsonl_files'), ignore_errors = true,
                             filename = true)
    WHERE mantis_bad_line(json)
    GROUP BY ALL
    UNION ALL
    SELECT unnest(getvariable('mantis_checked_shards')) AS shard,
           unnest(getvariable('mantis_checked_lines')) AS lines
)
GROUP BY shard
ORDER BY shard;
