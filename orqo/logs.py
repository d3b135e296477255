"""Structured logs: one JSON object per line, with the request id, secrets redacted.

Every request gets an id: the caller's ``X-Request-ID`` when it looks like one (nginx can pass
``$request_id``), else a new one; it is echoed in the response and in every log line written
while the request is handled. Token URLs, verify tokens, bearer tokens and ``orqo_`` API
tokens are redacted from every message, whatever logged it.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import datetime
from datetime import timezone

from flask import g
from flask import has_request_context
from flask import request

from orqo.gunicorn_logging import redact

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
SECRETS = re.compile(r"(?i)(bearer\s+)\S+|\borqo_[A-Za-z0-9_-]{20,}|\bwhsec_[A-Za-z0-9+/=]+")
_HANDLER_NAME = "orqo-structured"


def redact_secrets(text: str) -> str:
    """``text`` with every kind of orqo secret replaced by ``[redacted]``."""
    text = SECRETS.sub(lambda m: (m.group(1) or "") + "[redacted]", text)
    return redact(text)


class JsonFormatter(logging.Formatter):
    """A log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_secrets(record.getMessage()),
        }
        if has_request_context() and "request_id" in g:
            entry["request_id"] = g.request_id
        if record.exc_info:
            entry["exception"] = redact_secrets(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Plain text for a terminal, redacted the same way."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"[{g.request_id}] " if has_request_context() and "request_id" in g else ""
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
    handler.setFormatter(JsonFormatter() if app.config["LOG_FORMAT"] == "json" else
                         TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.setLevel(str(app.config["LOG_LEVEL"]).upper())

    @app.before_request
    def _assign_request_id():
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if REQUEST_ID.match(given) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response):
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response
