"""gunicorn's sync worker, answering gunicorn's own errors in orqo's JSON error shape.

gunicorn answers a request it cannot parse itself, before orqo sees it: a bad request line
(400), a request line over ``limit_request_line`` (414), too many or too long header lines
(431), a malformed chunked body (400), an unsupported transfer coding (501). It writes those
answers as HTML with ``gunicorn.util.write_error``, which has no setting or hook of its own;
:class:`JsonErrorWorker` keeps gunicorn's decisions (the status, the warning in the error log,
the access-log line) and writes the answer as ``{"error": {"code", "message", "details"}}``.

It also refuses to boot with one log line, not a traceback, when orqo's configuration is
wrong (:class:`~orqo.errors.ConfigError`); gunicorn's master then stops ("Worker failed to
boot") with a non-zero status. gunicorn.conf.py selects it with ``worker_class``.
"""
from __future__ import annotations

import contextlib
import json
import sys

from gunicorn import util
from gunicorn.arbiter import Arbiter
from gunicorn.workers.sync import SyncWorker
from werkzeug.exceptions import default_exceptions

from orqo.errors import ConfigError

INTERNAL_ERROR = "An internal error occurred."
#: Codes that differ from werkzeug's name for the status: the same code as nginx's own answer
#: to the same refusal (deploy/nginx.conf), whichever of the two refuses.
CODES = {414: "request_uri_too_large"}


def error_answer(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer (closing the connection) with orqo's JSON error body.

    The code is the name of werkzeug's exception for the status, as in orqo's own answers
    (``request_header_fields_too_large``); a 5xx is ``internal_error`` unless it is 501.
    """
    if status >= 500 and status != 501:
        code, message = "internal_error", INTERNAL_ERROR
    elif status in CODES:
        code = CODES[status]
    else:
        known = default_exceptions.get(status)
        code = (known().name if known else reason).lower().replace(" ", "_")
    body = json.dumps({"error": {"code": code, "message": message or reason, "details": {}}})
    head = (f"HTTP/1.1 {status} {reason}\r\n"
            "Connection: close\r\n"
            "Content-Type: application/json\r\n"
            "X-Content-Type-Options: nosniff\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return (head + body).encode("latin-1")


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error``'s signature, writing :func:`error_answer`."""
    util.write_nonblock(sock, error_answer(status_int, reason, mesg))


@contextlib.contextmanager
def json_error_pages():
    """gunicorn's error pages in JSON while the block runs.

    Swapping the module function is safe here: a sync worker handles one request at a time in
    one thread, and nothing else in the worker writes error pages.
    """
    html_writer = util.write_error
    util.write_error = write_json_error
    try:
        yield
    finally:
        util.write_error = html_writer


class JsonErrorWorker(SyncWorker):
    """A sync worker whose own error answers are orqo's JSON error shape."""

    def handle_error(self, req, client, addr, exc):
        """gunicorn's handling of ``exc`` (status, log lines), answered in JSON."""
        with json_error_pages():
            super().handle_error(req, client, addr, exc)

    def load_wsgi(self):
        """Load orqo; a configuration orqo cannot run with is one error line, then the worker
        exits with gunicorn's boot-error status, which stops the master."""
        try:
            super().load_wsgi()
        except ConfigError as exc:
            self.log.error("orqo: %s", exc)
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
