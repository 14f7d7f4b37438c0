-- before_gathered: the rows of mantis_candidates a `stats(before=...)` baseline keeps and checks
-- for later copies (stats/plan.py After.check): of workflow $workflow_id, gathered after step
-- $after_step, whose copy finished before $finished_before (ISO text). Put in place of
-- @before_gathered@ in a WHERE clause by before_range, before_copies, before_shards and
-- before_shard_copies.
(workflow_id = $workflow_id
 AND step > $after_step
 AND finished_at < CAST($finished_before AS TIMESTAMPTZ))
