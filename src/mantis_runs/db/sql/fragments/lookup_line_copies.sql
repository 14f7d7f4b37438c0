-- lookup_line_copies: the good lines of the JSONL files $jsonl (VARCHAR[], ending with its
-- placeholder) whose run_id is one of $run_ids, typed as the runs view types them
-- (mantis_view_jsonl_rows over the schema's session variables): the JSONL side of the point
-- lookups' copies. Put in place of @lookup_line_copies@ by lookup_copies and lookup_copies_lines.
SELECT *
FROM mantis_view_jsonl_rows(
    $jsonl,
    getvariable('mantis_scalars'),
    getvariable('mantis_wall'),
    getvariable('mantis_cost'),
    getvariable('mantis_known'))
WHERE run_id IN (SELECT unnest($run_ids))
