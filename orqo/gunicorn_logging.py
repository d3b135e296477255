"""gunicorn's logger with token URLs redacted from its access and error logs.

The path of ``/api/v1/hooks/<token>`` is the trigger's only credential, and Meta's handshake
sends the App's ``hub.verify_token`` in the query, so neither may reach the logs; every
access-log field that can hold them is rewritten, and so is every error-log line (gunicorn's
own ``pre_request`` hook logs each request's method and path at DEBUG).
"""
from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from gunicorn.glogging import Logger

TOKEN_PATH = re.compile(r"(/api/v1/hooks/)[^/?#\s\"]+")
# Meta's handshake carries the App's verify token in the query string.
VERIFY_TOKEN = re.compile(r"([?&]hub\.verify_token=)[^&#\s\"]*")


def redact(text: str) -> str:
    """``text`` with token-URL tokens and handshake verify tokens replaced by ``[redacted]``.

    Percent-escapes are decoded first (``/api/v1/%68ooks/<token>`` routes like the plain path),
    and a text that needed redacting once decoded is logged decoded.
    """
    decoded = unquote(text)
    redacted = VERIFY_TOKEN.sub(r"\1[redacted]", TOKEN_PATH.sub(r"\1[redacted]", decoded))
    return redacted if redacted != decoded else text


class RedactingFilter(logging.Filter):
    """Applies :func:`redact` to every record's message (formatted with its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: the handler reports it
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class RedactingLogger(Logger):
    """gunicorn's default logger, with :func:`redact` applied to every access-log atom and to
    every error-log line."""

    def setup(self, cfg):
        """gunicorn's set-up, then the redacting filter on the error log."""
        super().setup(cfg)
        if not any(isinstance(f, RedactingFilter) for f in self.error_log.filters):
            self.error_log.addFilter(RedactingFilter())

    def atoms(self, resp, req, environ, request_time):
        """The access-log values, redacted."""
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value
                for key, value in atoms.items()}
