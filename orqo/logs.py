"""Structured logs: one JSON object per line, with the request id, secrets redacted.

Every request gets an id: the caller's ``X-Request-ID`` when it looks like one (nginx can pass
``$request_id``), else a new one; it is echoed in the response and in every log line written
while the request is handled. Token URLs, verify tokens, bearer tokens and ``orqo_`` API
tokens are redacted from every message, whatever logged it.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import re
import sys
from datetime import datetime
from datetime import timezone

from flask import has_request_context
from flask import request

from orqo.gunicorn_logging import redact as redact_secrets

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
REQUEST_ID_KEY = "orqo.request_id"
_HANDLER_NAME = "orqo-structured"


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_secrets(record.getMessage()),
        }
        request_id = current_request_id()
        if request_id:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = redact_secrets(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Plain text for a terminal, redacted the same way."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = current_request_id()
        prefix = f"[{request_id}] " if request_id else ""
        return redact_secrets(prefix + super().format(record))


class StderrHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr``, even if it was replaced after set-up."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def init_app(app) -> None:
    """Log orqo's loggers to stderr in ``LOG_FORMAT``; give each request an id."""
    logger = logging.getLogger("orqo")
    if not any(h.get_name() == _HANDLER_NAME for h in logger.handlers):
        handler = StderrHandler()
        handler.set_name(_HANDLER_NAME)
        logger.addHandler(handler)
        logger.propagate = False
    handler = next(h for h in logger.handlers if h.get_name() == _HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"].lower() == "json" else
                         TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.setLevel(str(app.config["LOG_LEVEL"]).upper())

    app.wsgi_app = RequestIds(app.wsgi_app)


_ids = {}


def _new_process() -> None:
    _ids["prefix"], _ids["serial"] = os.urandom(8).hex(), itertools.count()


_new_process()
os.register_at_fork(after_in_child=_new_process)


def new_request_id() -> str:
    """A fresh request id: 16 random hex digits drawn once per process (again in each forked
    worker), then a counter: unique, 32 characters, and no system call per request."""
    return f"{_ids['prefix']}{next(_ids['serial']):016x}"


class RequestIds:
    """WSGI middleware: every request gets an id (the caller's ``X-Request-ID`` when it looks
    like one, else a new one) in ``environ["orqo.request_id"]``, echoed in the response."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        given = environ.get("HTTP_X_REQUEST_ID")
        request_id = given if given and REQUEST_ID.match(given) else new_request_id()
        environ[REQUEST_ID_KEY] = request_id

        def start(status, headers, exc_info=None):
            headers.append(("X-Request-ID", request_id))
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside one."""
    return request.environ.get(REQUEST_ID_KEY) if has_request_context() else None
