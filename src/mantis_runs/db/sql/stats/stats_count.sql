-- stats_count: the workflow's runs with status $status (NULL = any) in mantis_candidates so far,
-- after stats_dedupe has left one copy per run_id (rivals of other workflows are not counted).
-- Only runs with finished_at >= $at_least (text, as from stats_cutoff) are counted unless NULL,
-- and only runs finished before $finished_before (ISO text) unless NULL.
-- `runs` counts them all; `dated` those with a finished_at (only hand-written lines lack one,
-- and such runs rank after every dated run); `decided` those newer than $above (text; NULL:
-- every dated run): the latest finished_at any unread file may hold. Rows of unread files are
-- all older than a decided run, so they can neither beat its copy nor rank before it: once
-- `decided` reaches --last, the newest --last runs are known.
SELECT count(*) AS runs,
       count(finished_at) AS dated,
       count(*) FILTER (WHERE finished_at IS NOT NULL
                          AND ($above IS NULL OR finished_at > CAST($above AS TIMESTAMPTZ)))
           AS decided
FROM mantis_chosen($status, $finished_before)
WHERE workflow_id = $workflow_id
  AND ($at_least IS NULL OR finished_at >= CAST($at_least AS TIMESTAMPTZ));
