-- runs_ids: every run_id in the files the views currently point at, whatever its status or
-- workflow. RunStore.runs() reads months newest first; a run_id seen in a newer month makes any
-- copy in an older month an older copy, which must not be listed even if it matches the filters.
SELECT DISTINCT run_id
FROM (
    SELECT run_id
    FROM read_json(getvariable('mantis_jsonl_files'), format = 'newline_delimited',
                   records = true, columns = {run_id: 'VARCHAR'}, ignore_errors = true)
    UNION ALL
    SELECT run_id FROM read_parquet(getvariable('mantis_parquet_files'))
)
WHERE run_id IS NOT NULL;
