"""orqo's exceptions, and the one JSON error shape every client sees.

Every error answered over HTTP, on the API and on the webhook endpoints, has the shape
``{"error": {"code": ..., "message": ..., "details": ...}}``. No stack trace reaches a client.
"""
from __future__ import annotations

import logging

from flask import jsonify
from sqlalchemy.exc import DataError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import InterfaceError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

logger = logging.getLogger(__name__)


class OrqoError(Exception):
    """Base class of orqo's own errors."""


class ConfigError(OrqoError):
    """Raised at startup for a configuration orqo cannot run with (fatal; seen by operators)."""


class PluginError(OrqoError):
    """Wraps an exception raised by plugin code; ``plugin`` names the plugin, ``hook`` the hook.

    Raised by orqo's hook call sites, seen in logs and in the ledger's reasons.
    """

    def __init__(self, plugin: str, hook: str, error: BaseException):
        self.plugin = plugin
        self.hook = hook
        self.error = error
        super().__init__(f"plugin {plugin!r} failed in {hook}: {type(error).__name__}: {error}")


class UnknownPlatform(KeyError):
    """An App names an adapter platform that no installed plugin provides."""

    def __init__(self, platform: str):
        super().__init__(platform)
        self.platform = platform

    def __str__(self):
        return f"no installed adapter provides platform {self.platform!r}"


class MalformedDelivery(OrqoError):
    """Raised by an adapter's parse stage for a body the platform could not have meant.

    The message is recorded in the ledger as the reason and returned to the sender: say what is
    wrong, never echo a secret.
    """


class ApiError(OrqoError):
    """An error answered to an HTTP client with the given status, code and details."""

    def __init__(self, status: int, code: str, message: str, details=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, details=None, headers=None):
    """The JSON error response every endpoint uses."""
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def concurrent_change(exc: IntegrityError):
    """The API's answer to a write that a database constraint refused: 409 ``conflict``.

    The checks before a write found the constraint satisfied, and a request that committed in
    between broke it (two creates of one thing at once). The services answer their own races
    with the same 409 their checks give; this is the backstop for any other. The database's
    message holds the statement's parameters, so it is neither logged nor sent.
    """
    from orqo.extensions import db

    db.session.rollback()
    logger.warning("a write was refused by a database constraint (%s); answered 409",
                   type(getattr(exc, "orig", None) or exc).__name__)
    return error_response(409, "conflict", "The request conflicts with a change another "
                          "request made at the same time; read the resource again and retry.")


def database_unavailable(retry_after: int):
    """The answer when the database cannot be reached: retry later, nothing was stored."""
    return error_response(
        503,
        "database_unavailable",
        "The database is unavailable; nothing was stored. Retry later.",
        headers={"Retry-After": str(retry_after)},
    )


NUMBER_OUT_OF_RANGE = "A number is too large for the database to store."
NUL_IN_TEXT = "A string holds a character the database cannot store (U+0000)."
#: What a refused value was, by the SQLSTATE of the database's error (PostgreSQL's codes).
UNSTORABLE = {
    "22003": NUMBER_OUT_OF_RANGE,
    "22021": NUL_IN_TEXT,
    "22P05": NUL_IN_TEXT,
}


def unstorable_reason(exc: BaseException) -> str:
    """What kind of value the database refused, for the client (never the value itself)."""
    original = getattr(exc, "orig", None)
    reason = UNSTORABLE.get(getattr(original, "sqlstate", None))
    if reason:
        return reason
    if isinstance(exc, OverflowError):  # SQLite: an integer past 64 bits
        return NUMBER_OUT_OF_RANGE
    if "NUL" in str(original):  # psycopg refuses U+0000 itself, before the server sees it
        return NUL_IN_TEXT
    return "A value is out of range or not valid for its type."


class BoundedIntConverter(IntegerConverter):
    """``<int:...>`` in URLs, limited to what the database stores (larger: 404 like any id)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2 ** 63 - 1)
        super().__init__(map, *args, **kwargs)


def init_app(app):
    """Register the error handlers that give every error the JSON shape."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        message, details = exc.description or exc.name, {}
        data = getattr(exc, "data", None)
        if isinstance(data, dict) and isinstance(data.get("messages"), dict):
            # A request body or query refused by its schema (webargs, through flask-smorest).
            messages = data["messages"]
            details = messages["json"] if set(messages) == {"json"} else messages
            code, message = "validation_error", "The request is not valid."
        response = error_response(exc.code or 500, code, message, details)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _unstorable_value(exc):
        # A value the database cannot store (SQLite raises OverflowError for a number past
        # 64 bits, PostgreSQL a DataError): the client's value, not the server, is wrong.
        from orqo.extensions import db

        db.session.rollback()
        return error_response(422, "validation_error", "A value cannot be stored by orqo.",
                              {"value": [unstorable_reason(exc)]})

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeoutError)  # every pooled connection busy: retry later
    def _database_error(exc):
        from orqo.extensions import db

        logger.warning("database unavailable: %s",
                       type(getattr(exc, "orig", None) or exc).__name__)
        try:
            db.session.rollback()
        except Exception:  # the connection is already gone; the pool discards it
            logger.debug("rollback after a database error failed", exc_info=True)
        return database_unavailable(app.config["RETRY_AFTER_SECONDS"])

    @app.errorhandler(Exception)
    def _unexpected(exc):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        logger.exception("unhandled error")
        return error_response(500, "internal_error", "An internal error occurred.")
