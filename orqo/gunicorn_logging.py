"""gunicorn's logger with token URLs redacted from access log lines.

The path of ``/api/v1/hooks/<token>`` is the trigger's only credential, and Meta's handshake
sends the App's ``hub.verify_token`` in the query, so neither may reach the logs; every
access-log field that can hold them is rewritten.
"""
from __future__ import annotations

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


class RedactingLogger(Logger):
    """gunicorn's default logger, with :func:`redact` applied to every access-log atom."""

    def atoms(self, resp, req, environ, request_time):
        """The access-log values, redacted."""
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value
                for key, value in atoms.items()}
