-- mantis_winning_details(status_is, finished_before, wf): the details of the runs of workflow
-- `wf` that mantis_chosen(status_is, finished_before) keeps and that are dated, as (row, run_id,
-- finished_at, error, extra): `row` is the run's rowid in mantis_candidates, error and extra
-- those of its winning copy among the copies stats_details_parquet and stats_details_jsonl put
-- in mantis_details, ranked by the copy order (copies equal in every key of the order are
-- interchangeable by that rule; one of them is taken); NULL where the copy has none.
-- Created right after mantis_details (stats_details_table), which a table macro needs to exist.
CREATE OR REPLACE TEMP MACRO mantis_winning_details(status_is, finished_before, wf) AS TABLE
SELECT c."row", c.run_id, c.finished_at, d.error, d.extra
FROM mantis_chosen(status_is, finished_before) AS c
LEFT JOIN (
    SELECT run_id, error, extra
    FROM mantis_details
    QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY @copy_order@) = 1
) AS d ON d.run_id = c.run_id
WHERE c.workflow_id = wf
  AND c.finished_at IS NOT NULL;
