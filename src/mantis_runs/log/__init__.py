"""The log wing (standard library only): the row contract, the month layout, locks, the writer,
checkpoint manifests and time windows. It never imports duckdb, pyarrow, click or tabulate."""
