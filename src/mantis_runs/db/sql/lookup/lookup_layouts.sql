-- lookup_layouts: the Parquet layout each file says it is in (its `mantis_layout` key-value
-- metadata; none: layout 1). A point lookup never leaves out a file of another layout than
-- this mantis-runs reads: the general path reads every part and stops at such a file with its
-- fix (connection.old_layout), and so must the lookup.
-- Parameters: $files (VARCHAR[]), $key (the metadata key, schema.LAYOUT_KEY).
SELECT file_name, decode(value) AS layout
FROM parquet_kv_metadata($files)
WHERE decode(key) = $key;
