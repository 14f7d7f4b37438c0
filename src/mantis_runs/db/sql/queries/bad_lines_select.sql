-- bad_lines_select: malformed lines per shard, from the runs_bad_lines view.
SELECT shard, lines
FROM runs_bad_lines;
