-- runs, over local data dirs and a lake: the winning copy of each run_id among the local runs
-- (mantis_local_runs: one per run_id already) and every copy the lake holds (mantis_lake, the
-- registered Arrow dataset of the table: a host ships each copy that wins later, and two hosts
-- may ship one run), by the copy order (fragments/copy_order.sql). The lake's rows take the
-- local view's shape: the breakdown's two stored columns as one MAP (mantis_breakdown), extra
-- as JSON, without the lake's own columns (month, host_id, ship_seq, ingested_at). Only the lake
-- months read are in it, as the data dirs' (session variables mantis_lake_months and
-- mantis_lake_undated, set with the file lists: db/lake_source.py set_months); that filter
-- reaches the dataset scan, so only those months' files are read.
-- Every row is ranked (no pass-through of uncontested run_ids as view_runs.sql has): a filter
-- on run_id then reaches the scan through the window's partition, and the table's file
-- statistics skip every file that cannot hold it (`show`: a fraction of a second over 10M
-- runs, where a pass-through needs a count of every run_id of the table first).
CREATE OR REPLACE TEMP VIEW runs AS
SELECT *
FROM (
    SELECT *
    FROM mantis_local_runs
    UNION ALL BY NAME
    SELECT * EXCLUDE (wall_time_breakdown_other, month, host_id, ship_seq, ingested_at)
             REPLACE (mantis_breakdown(wall_time_breakdown, wall_time_breakdown_other)
                          AS wall_time_breakdown,
                      CAST(extra AS JSON) AS extra)
    FROM mantis_lake
    WHERE list_contains(getvariable('mantis_lake_months'), month)
       OR (getvariable('mantis_lake_undated') AND month IS NULL)
)
QUALIFY row_number() OVER (
    PARTITION BY run_id
    ORDER BY @copy_order@
) = 1;
