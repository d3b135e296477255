"""gunicorn's logger with token URLs redacted from access log lines.

The path of ``/api/v1/hooks/<token>`` is the trigger's only credential, so it must not reach
the logs; every access-log field that can hold the path is rewritten.
"""
from __future__ import annotations

import re

from gunicorn.glogging import Logger

TOKEN_PATH = re.compile(r"(/api/v1/hooks/)[^/?#\s\"]+")


def redact(text: str) -> str:
    """``text`` with the token of any token-URL path replaced by ``[redacted]``."""
    return TOKEN_PATH.sub(r"\1[redacted]", text)


class RedactingLogger(Logger):
    """gunicorn's default logger, with :func:`redact` applied to every access-log atom."""

    def atoms(self, resp, req, environ, request_time):
        """The access-log values, redacted."""
        atoms = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value
                for key, value in atoms.items()}
