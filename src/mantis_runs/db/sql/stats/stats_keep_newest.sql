-- stats_keep_newest: when mantis_candidates holds more matching runs than --last, drop all but
-- the newest $last of them (fragments/newest_order.sql), so the
-- percentile query needs no sort. Only the two sort keys and the rowid are ordered, not the
-- breakdowns. Malformed-line rows (run_id IS NULL) stay: they are counted per shard afterwards.
-- Parameters: $last (BIGINT), $status (NULL = any), $finished_before (ISO text; NULL = no upper
-- bound: only runs finished before it are kept).
DELETE FROM mantis_candidates
WHERE run_id IS NOT NULL
  AND rowid NOT IN (
      SELECT "row"
      FROM mantis_chosen($status, $finished_before)
      ORDER BY @newest_order@
      LIMIT $last
  );
