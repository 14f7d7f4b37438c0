"""DuckDB's compiled engine, without the Python relational layer until a read needs it.

``import duckdb`` imports the compiled engine (``_duckdb``) and then a Python layer over it: the
relational API (``con.sql``, relations, Arrow results), the expression builders, and a look-up of
the package's own version through ``importlib.metadata``; about 45 ms of CPU more than the engine
alone, at the start of every command. Connections, ``connect``, the errors, the statement types
and the tokenizer are the engine's own objects, which ``duckdb`` re-exports as they are; its
layer only adds methods (``sql``, ``to_arrow_table``...) to the same connection class
(tests/test_engine.py checks both). So the modules on the path of the point commands (``show``,
``report``, ``list``, ``watch``, ``status``) take DuckDB from here and run statements with
``execute``; a read that wants the relational API calls :func:`relational` first (or imports
``duckdb`` itself, in a module those commands never import). Annotations name ``duckdb``'s
types under ``TYPE_CHECKING``: they are these.
"""

from __future__ import annotations

from types import ModuleType

from _duckdb import (
    DuckDBPyConnection,
    Error,
    OutOfMemoryException,
    ParserException,
    Statement,
    StatementType,
    __version__,
    connect,
    token_type,
    tokenize,
)

__all__ = ["DuckDBPyConnection", "Error", "OutOfMemoryException", "ParserException", "Statement",
           "StatementType", "__version__", "connect", "relational", "token_type", "tokenize"]


def relational() -> ModuleType:
    """The ``duckdb`` package: its relational API on every connection from now on."""
    import duckdb

    return duckdb
