-- stats_cutoff: a finished_at at or after which the newest runs of a month probably all lie.
-- The $k-th newest finished_at among the rows of the Parquet files $files that match the
-- workflow, since, status and $finished_before filters (before run_ids are deduplicated); a
-- streaming top-k over three narrow columns, so no run_id or breakdown is read. `cutoff` is NULL
-- when fewer than $k rows match. The caller collects only rows at or after the cutoff (later
-- copies included), then checks that enough runs remain after dedupe (see query.py); otherwise
-- it collects the rest.
-- The cutoff is returned as text (exact to the microsecond; the session time zone is UTC).
SELECT CAST(min(finished_at) AS VARCHAR) AS cutoff
FROM (
    SELECT finished_at
    FROM read_parquet($files)
    WHERE @stats_cutoff_rows@
    ORDER BY finished_at DESC
    LIMIT $k
)
HAVING count(*) = $k;
