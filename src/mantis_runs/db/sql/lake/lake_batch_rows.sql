-- lake_batch_rows: rows $first..$last (lake_pos) of lake_new (lake_new_rows.sql), one batch of
-- `mantis runs ship`, with the lake's own columns; the caller casts to the table's schema.
-- Parameters: $first, $last, $host_id, $ship_seq, $ingested_at.
SELECT
    * EXCLUDE (lake_pos),
    $host_id AS host_id,
    CAST($ship_seq AS BIGINT) AS ship_seq,
    CAST($ingested_at AS TIMESTAMPTZ) AS ingested_at
FROM lake_new
WHERE lake_pos BETWEEN $first AND $last
ORDER BY lake_pos;
