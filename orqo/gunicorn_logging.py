"""Secrets out of every log line: gunicorn's access and error logs, and orqo's own (orqo.logs).

Credentials that can appear in a logged line, each replaced by ``[redacted]``:

* the token of a token URL, ``/api/v1/hooks/<token>``: everything after ``/hooks/`` in any path,
  whatever precedes it, so ``/api/v1//hooks/<token>`` and ``/api/v1/./hooks/<token>`` (which
  clients send, though orqo answers them 404) are caught as well;
* ``hub.verify_token`` (Meta's handshake) and ``access_token`` in a query string;
* orqo API tokens (``orqo_...``), ``Bearer`` credentials and Standard Webhooks secrets
  (``whsec_...``) anywhere in a line.

Percent-escapes are decoded first when a line has any (``/api/v1/%68ooks/<token>`` routes like
the plain path), and a line that needed redacting once decoded is logged decoded. The access
log is on every request's path: each line is formatted once and searched with one compiled
regex; only lines with a ``%`` are decoded.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import unquote

from gunicorn.glogging import Logger

SECRETS = re.compile(
    r"(/hooks/+)[^?#\s\"]+"
    r"|([?&](?:hub\.verify_token|access_token)=)[^&#\s\"]*"
    r"|(bearer\s+)\S+"
    r"|\borqo_[A-Za-z0-9_-]{20,}"
    r"|\bwhsec_[A-Za-z0-9+/=]+",
    re.IGNORECASE,
)
HIDDEN = "[redacted]"


def _hide(match: re.Match) -> str:
    return (match.group(1) or match.group(2) or match.group(3) or "") + HIDDEN


def redact(text: str) -> str:
    """``text`` with every credential (see the module's docstring) replaced by ``[redacted]``."""
    if "%" in text:
        redacted, found = SECRETS.subn(_hide, unquote(text))
        if found:
            return redacted
    return SECRETS.sub(_hide, text)


class RedactingFilter(logging.Filter):
    """Formats each record's message once, with its arguments, and applies :func:`redact`; the
    handler then writes it as it is (no second formatting)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit: the handler reports it
            return True
        record.msg, record.args = redact(message), ()
        return True


class RedactingLogger(Logger):
    """gunicorn's default logger, with :func:`redact` applied to every access-log and
    error-log line."""

    def setup(self, cfg):
        """gunicorn's set-up, then the redacting filter on both logs."""
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactingFilter) for f in log.filters):
                log.addFilter(RedactingFilter())
