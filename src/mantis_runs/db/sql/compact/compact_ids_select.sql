-- compact_ids_select: the rows compact_ids left in mantis_ids (totals, bad lines, repeats).
SELECT total_row, run_id, shard_lines, copies
FROM mantis_ids;
