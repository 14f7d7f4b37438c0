-- stats_failures: how many runs of the window of a `stats` answer failed. The window starts at
-- the oldest of the runs the percentiles are over (the newest $last with status $status,
-- fragments/newest_order.sql) and holds every terminal run of the workflow finished since, of
-- any status; failed runs are counted here, never mixed into the percentiles of succeeded ones.
-- Runs on mantis_candidates after stats_drop_rivals and before stats_keep_newest: every run
-- finished since the window's start has been read by then (stats_count's `decided`).
-- Parameters: $last, $status (NULL = any), $finished_before (ISO text; NULL = no upper bound),
--             $group_by (NULL, or an attribute: mantis_group_value).
-- Result: one row per group (grp NULL without $group_by): the window's start (NULL when no
-- reported run has a finished_at: then there is no window), failed runs, and all runs.
WITH chosen AS (
    SELECT finished_at
    FROM mantis_chosen($status, $finished_before)
    ORDER BY @newest_order@
    LIMIT $last
),
start AS (
    SELECT min(finished_at) AS since FROM chosen
)
SELECT mantis_group_value($group_by, model, plan_signature, profile_id, tenant_id) AS grp,
       (SELECT since FROM start) AS since,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) AS runs
FROM mantis_chosen(NULL, $finished_before)  -- every status
WHERE finished_at >= (SELECT since FROM start)
GROUP BY grp;
