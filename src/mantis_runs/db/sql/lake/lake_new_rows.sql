-- lake_new_rows: the runs of the `runs` view (one copy per run_id, by the copy order; bad lines
-- are not rows) that `mantis runs ship` has not shipped yet, in the Parquet layout (the breakdown
-- MAP split into the struct of known buckets and the map of the others, as mantis_upgrade_rows
-- does; extra as JSON text), numbered in shipping order (month, then finished_at, then run_id).
-- A run counts as shipped when a shipped copy has the same run_id and the same copy-order keys
-- (fragments/copy_order.sql): a copy that wins later is shipped too, and readers of the table
-- rank the copies by the same order. Runs without a run_id are not shipped.
-- Parameters: $known_struct, $known_names; the variable mantis_lake_sent lists the sent/ key
-- files, ending with the views' empty Parquet placeholder.
CREATE OR REPLACE TEMP TABLE lake_new AS
SELECT
    row_number() OVER (ORDER BY strftime(r.finished_at, '%Y-%m') NULLS LAST,
                                r.finished_at NULLS LAST, r.run_id) AS lake_pos,
    r.*,
    strftime(r.finished_at, '%Y-%m') AS month
FROM (
    SELECT
        * REPLACE (
            CASE WHEN wall_time_breakdown IS NOT NULL
                 THEN json_transform(to_json(wall_time_breakdown), $known_struct)
            END AS wall_time_breakdown,
            CAST(extra AS VARCHAR) AS extra),
        mantis_other_seconds(wall_time_breakdown, $known_names) AS wall_time_breakdown_other
    FROM runs
    WHERE run_id IS NOT NULL
) AS r
ANTI JOIN (SELECT run_id, finished_at, total_time_s, status, workflow_id
           FROM read_parquet(getvariable('mantis_lake_sent'), union_by_name = true)) AS s
    ON r.run_id = s.run_id
   AND r.finished_at IS NOT DISTINCT FROM s.finished_at
   AND r.total_time_s IS NOT DISTINCT FROM s.total_time_s
   AND r.status IS NOT DISTINCT FROM s.status
   AND r.workflow_id IS NOT DISTINCT FROM s.workflow_id;
