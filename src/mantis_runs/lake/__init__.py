"""The lake: one run history for many hosts, as a Delta Lake table on object storage.

Each host ships its data dir's runs (``ship.ship``) into one table made once by
``init.init``; ``maintain.compact_lake`` is the scheduled OPTIMIZE / checkpoint / VACUUM job.
Spark, Trino, Athena, DuckDB and polars read the table; only mantis writes it (docs/lake.md).

Modules: ``storage`` (URI, options, one-line errors without credentials), ``hostid``,
``table`` (schema, properties, opening), ``init``, ``ledger`` (the local record in
``<data dir>/ship/``), ``batches`` (what is not shipped yet, cut into durable batches),
``clones`` (a cloned data dir refused), ``ship`` (the protocol), ``loop`` (``--every``),
``maintain``. Only these import ``deltalake``, each inside the functions that need it.
"""

import os as _os

# delta-rs logs through Rust's env_logger, which prints the AWS SDK's warnings (its IMDS region
# and credential probes, several lines each) on stderr at every failed lookup: mantis's one-line
# errors say what failed. A user who wants them sets RUST_LOG (e.g. RUST_LOG=warn) themselves.
_os.environ.setdefault("RUST_LOG", "error")
