"""The command line's one error mapping: an expected failure is one line, never a traceback.

Every command runs inside :class:`ErrorMapping`'s ``invoke``: a refusal by a service function
(:class:`~orqo.errors.ApiError`), a setting orqo cannot run with, a database without orqo's
tables, and a database that cannot be reached are printed to stderr as one line in the API's
error shape, ``{"error": {"code", "message", "details"}}``, and the command exits 1. The line
never holds SQL or its parameters (credentials are among them): only the database's own
one-line reason. Anything else is a bug and keeps its traceback.
"""
from __future__ import annotations

import json

import click
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from orqo.config import InvalidSetting
from orqo.errors import ApiError
from orqo.errors import ConfigError
from orqo.logs import redact_secrets

#: SQLSTATEs of a schema that is missing or older than this orqo (PostgreSQL's codes:
#: undefined table, undefined column).
SCHEMA_MISSING_STATES = ("42P01", "42703")
#: SQLite's words for the same.
SCHEMA_MISSING_WORDS = ("no such table", "no such column", "has no column named")
EXIT_FAILURE = 1


def expected_error(exc: BaseException) -> ApiError | None:
    """``exc`` as the error a user sees, or None when it is not an expected failure (a bug)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, InvalidSetting):
        return ApiError(500, "invalid_setting", str(exc), {"setting": exc.setting})
    if isinstance(exc, ConfigError):
        return ApiError(500, "config_error", str(exc))
    if isinstance(exc, DBAPIError) or isinstance(exc, PoolTimeoutError):
        return database_error(exc)
    return None


def database_error(exc: BaseException) -> ApiError:
    """A database failure in words: no schema yet, unreachable, or refused (with its reason)."""
    reason = database_reason(exc)
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if state in SCHEMA_MISSING_STATES or any(w in reason for w in SCHEMA_MISSING_WORDS):
        return ApiError(503, "database_not_initialised",
                        f"The database has no orqo tables, or older ones ({reason}): run "
                        "`orqo init-db` first.")
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)):
        return ApiError(503, "database_unavailable",
                        sentence(f"The database cannot be reached: {reason}"))
    return ApiError(500, "database_error", sentence(f"The database refused the command: {reason}"))


def database_reason(exc: BaseException) -> str:
    """The driver's own reason, on one line: never SQLAlchemy's text, which quotes the SQL and
    its parameters."""
    original = getattr(exc, "orig", None) or exc
    diagnostic = getattr(original, "diag", None)
    text = getattr(diagnostic, "message_primary", None) or str(original)
    if isinstance(exc, PoolTimeoutError):
        text = "no connection was free in time"
    return redact_secrets(" ".join(text.split())).rstrip(".") or type(original).__name__


def sentence(text: str) -> str:
    """``text`` ending in one full stop (a reason may end in "?" already)."""
    return text if text.endswith(("?", "!")) else text + "."


def echo_error(error: ApiError) -> None:
    """Print ``error`` to stderr as one line of JSON in the API's error shape."""
    click.echo(json.dumps({"error": {"code": error.code, "message": error.message,
                                     "details": error.details}}, ensure_ascii=False), err=True)


class ErrorMapping:
    """A click group whose commands' expected failures are one line (:func:`expected_error`)
    and exit 1, wherever they are raised: loading the app or running the command."""

    def invoke(self, ctx):
        """Run the command; print an expected failure as one line and exit 1."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            error = expected_error(exc)
            if error is None:
                raise
            echo_error(error)
            ctx.exit(EXIT_FAILURE)
