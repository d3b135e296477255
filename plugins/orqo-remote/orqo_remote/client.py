"""HTTP to a remote adapter: which URLs may be called, and how each call is bounded.

* URLs: ``https`` only, except loopback hosts (``127.0.0.0/8``, ``::1``, ``localhost``) which
  may use ``http``; no user info, query or fragment. When orqo's config sets
  ``REMOTE_ADAPTER_ALLOWED_HOSTS`` (a list, or a comma-separated string), only those hosts are
  called, checked when an App is saved and again on every call. When it is unset, the
  addresses a host resolves to are checked on every connection instead
  (:mod:`orqo_remote.addresses`).
* Calls: one pooled :class:`requests.Session` per adapter instance
  (:func:`orqo_remote.transport.make_session`), redirects never followed (a 3xx is an error),
  no retries (the platform retries the whole delivery), one deadline over the whole call
  (resolving, connecting, sending and every read of the answer), response bodies read as a
  stream and abandoned past a size limit.
* Errors: :class:`RemoteAdapterError`, whose message names what went wrong and where, never a
  credential or a body. Every way of not reaching the adapter (refused, not found, timed out,
  reset, TLS failure) gives the same message, so that the answer cannot be used to map a
  network; the detail goes to orqo's log at WARNING.
"""
from __future__ import annotations

import json
import logging
import re
import time
from urllib.parse import urlsplit

import requests
from flask import current_app
from flask import has_app_context
from urllib3.exceptions import HTTPError

from orqo.config import as_name_list
from orqo_remote import transport
from orqo_remote.addresses import names_loopback
from orqo_remote.errors import AddressRefused
from orqo_remote.errors import RemoteAdapterError

__all__ = ["ALLOWED_HOSTS_KEY", "RemoteAdapterError", "allowed_hosts", "call", "check_url",
           "decode_json", "log_detail", "make_session", "redact", "unreachable"]

#: orqo config key: the hosts remote adapters may be called on (unset: public addresses, or
#: loopback named as such).
ALLOWED_HOSTS_KEY = "REMOTE_ADAPTER_ALLOWED_HOSTS"
#: The clock deliveries' budgets are measured with; ``StageRequest.received_at`` is on it.
clock = time.time
make_session = transport.make_session
_CHUNK = 64 * 1024
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"\)\]]+)")
logger = logging.getLogger("orqo.remote")


def unreachable(where: str) -> str:
    """The one message for an adapter that could not be reached, whatever the cause."""
    return f"{where}: timed out or connection failed; the adapter could not be reached in time."


def allowed_hosts() -> list[str]:
    """The allowlist from the current orqo app's config; empty when unset (or no app)."""
    if not has_app_context():
        return []
    return [host.lower().rstrip(".") for host in
            as_name_list(current_app.config.get(ALLOWED_HOSTS_KEY))]


def check_url(url, allowed: list[str]) -> str:
    """Return ``url`` without its trailing slash if orqo may call it; else raise.

    Checks the URL's text only; the addresses its host resolves to are checked on every
    connection (:mod:`orqo_remote.addresses`).

    :raises RemoteAdapterError: naming the rule the URL breaks.
    """
    if not isinstance(url, str) or not url.strip():
        raise RemoteAdapterError("The adapter URL is required.")
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise RemoteAdapterError(f"The adapter URL is not valid: {exc}.") from None
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("https", "http") or not host:
        raise RemoteAdapterError("The adapter URL must be https://host[:port][/path].")
    if parts.username is not None or parts.password is not None:
        raise RemoteAdapterError("The adapter URL must not carry a user or password; "
                                 "credentials go in the App's credentials.")
    if parts.query or parts.fragment:
        raise RemoteAdapterError("The adapter URL must not have a query or a fragment.")
    if parts.scheme == "http" and not names_loopback(host):
        raise RemoteAdapterError(f"The adapter URL must use https (http is allowed only on "
                                 f"loopback), not http://{host}.")
    if allowed and host not in allowed:
        raise RemoteAdapterError(f"The host {host!r} is not in {ALLOWED_HOSTS_KEY}.")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _cause(exc: BaseException) -> str:
    """A short cause of a connection failure ("Connection refused"), for orqo's log only."""
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    found = _ERRNO.search(str(reason))
    return found.group(1).strip() if found else type(reason).__name__


def call(session: requests.Session, method: str, base_url: str, path: str, *,
         connect_timeout: float, read_timeout: float, limit: int, deadline: float,
         payload: bytes | None = None) -> tuple[int, bytes]:
    """Send one request to ``base_url + path``; return ``(status, body)``.

    :param connect_timeout: seconds to connect, at most.
    :param read_timeout: seconds to wait for each read from the adapter, at most.
    :param limit: the largest body accepted, in bytes.
    :param deadline: on :data:`clock`: resolving, connecting, sending and reading the whole
        answer must be done by then.
    :raises RemoteAdapterError: on a refused address or a redirect (each saying so,
        ``permanent``), a body over ``limit`` (saying so), or with the message of
        :func:`unreachable` for every connection failure and timeout (the cause in its
        ``detail``).
    """
    where = f"remote adapter {base_url}: {method} {path}"
    headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    check_addresses = not allowed_hosts()
    try:
        with transport.bounded(deadline - clock(), check_addresses), session.request(
                method, base_url + path, data=payload, headers=headers,
                timeout=(connect_timeout, read_timeout), allow_redirects=False,
                stream=True) as response:
            if 300 <= response.status_code < 400:
                raise RemoteAdapterError(f"{where} answered a redirect (HTTP "
                                         f"{response.status_code}), which orqo does not follow; "
                                         "configure the adapter's final URL.", permanent=True)
            return response.status_code, _read(response, limit, deadline, where)
    except AddressRefused as exc:
        raise RemoteAdapterError(f"{where}: {exc}", permanent=True) from None
    except (requests.RequestException, HTTPError, OSError) as exc:
        raise RemoteAdapterError(unreachable(where),
                                 detail=f"{type(exc).__name__}: {_cause(exc)}") from None


def log_detail(exc: RemoteAdapterError) -> None:
    """Log the cause behind a generic :class:`RemoteAdapterError` (if any) at WARNING."""
    if exc.detail:
        logger.warning("%s (cause: %s)", exc, exc.detail)


def _read(response: requests.Response, limit: int, deadline: float, where: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RemoteAdapterError(f"{where}: the answer is {declared} bytes, over the limit of "
                                 f"{limit} bytes.")
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=_CHUNK):
        size += len(chunk)
        if size > limit:
            raise RemoteAdapterError(f"{where}: the answer is over the limit of {limit} bytes.")
        # The sockets stop at the deadline; this also catches an answer that came whole but late.
        if clock() > deadline:
            raise RemoteAdapterError(unreachable(where),
                                     detail="the answer was still arriving at the deadline")
        chunks.append(chunk)
    return b"".join(chunks)


def redact(text: str, credentials: dict) -> str:
    """``text`` from the remote adapter with any of the App's credential values blanked, cut
    to 500 characters."""
    for value in credentials.values():
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, "[redacted]")
    return text[:500]


def decode_json(body: bytes, where: str):
    """``body`` as JSON; :class:`RemoteAdapterError` when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise RemoteAdapterError(f"{where}: the answer is not valid JSON.") from None
