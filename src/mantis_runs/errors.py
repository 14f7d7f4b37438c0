"""Errors a user can cause or fix. The CLI prints their message as one line, with no traceback."""

from __future__ import annotations


def one_line(exc: BaseException) -> str:
    """An exception's message folded onto one line (DuckDB's span several)."""
    return " ".join(str(exc).split())


class MantisError(Exception):
    """A failure with a one-line, user-facing explanation."""

    exit_code = 1


class UsageError(MantisError):
    """A bad option value (exit status 2, like click's own usage errors)."""

    exit_code = 2


class NotFound(MantisError):
    """The run, workflow or month asked for does not exist."""

    exit_code = 1


class NoRunLog(NotFound):
    """The data dir does not exist, or holds no run log (neither ``runs_log/`` nor
    ``compacted/``): readers and compaction refuse it rather than read it as an empty store."""


class NoDataDir(NoRunLog):
    """The data dir does not exist at all (a mistyped path, the wrong $MANTIS_DATA_DIR)."""


class MissingExtra(MantisError):
    """An optional dependency is not installed: one line naming the extra to install."""

    def __init__(self, message: str, extra: str) -> None:
        super().__init__(message)
        self.extra = extra


def missing_extra(extra: str, what: str) -> MissingExtra:
    """``what`` (the option or feature, as its caller words it) needs ``extra``."""
    return MissingExtra(f"{what} needs the {extra} extra: pip install 'mantis-runs[{extra}]'",
                        extra)
