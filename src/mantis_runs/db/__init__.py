"""The DuckDB wing, shared by every reader and the compactor: connections, file snapshots under the
publish lock, the views, the Parquet layout and the SQL files."""
