-- failures_newest_chosen: among the workflow's failed dated runs in mantis_candidates (their
-- winning copies, as failures_chosen reads them) that finished at one of the instants $at
-- (microseconds since the epoch: each error class's last), the newest run (@newest_order@) of
-- each error text and instant, for the example run of a class.
-- Parameters: $workflow_id, $at (BIGINT[]).
SELECT error, epoch_us(finished_at) AS at, first(run_id ORDER BY @newest_order@) AS newest
FROM mantis_winning_details('failed', NULL, $workflow_id)
WHERE list_contains($at, epoch_us(finished_at))
GROUP BY error, finished_at;
