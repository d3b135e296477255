"""HTTP to a remote adapter: which URLs may be called, and how each call is bounded.

* URLs: ``https`` only, except loopback hosts (``127.0.0.0/8``, ``::1``, ``localhost``) which
  may use ``http``; no user info, query or fragment. When orqo's config sets
  ``REMOTE_ADAPTER_ALLOWED_HOSTS`` (a list, or a comma-separated string), only those hosts are
  called, checked when an App is saved and again on every call.
* Calls: one pooled :class:`requests.Session` per adapter instance, redirects never followed
  (a 3xx is an error), no retries (the platform retries the whole delivery), a connect timeout
  and a read timeout, response bodies read as a stream and abandoned past a size limit.
* Errors: :class:`RemoteAdapterError`, whose message names what went wrong and where, never a
  credential or a body.
"""
from __future__ import annotations

import ipaddress
import json
import re
import time
from urllib.parse import urlsplit

import requests
from flask import current_app
from flask import has_app_context
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ReadTimeoutError

from orqo.config import as_name_list
from orqo.errors import OrqoError

#: orqo config key: the hosts remote adapters may be called on (unset: any https host).
ALLOWED_HOSTS_KEY = "REMOTE_ADAPTER_ALLOWED_HOSTS"
#: The clock deliveries' budgets are measured with; ``StageRequest.received_at`` is on it.
clock = time.time
_CHUNK = 64 * 1024
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\"\)\]]+)")


class RemoteAdapterError(OrqoError):
    """A remote adapter could not be called, or gave no usable answer.

    The message says why and names the adapter's URL; it never holds a credential or a body.
    """


def allowed_hosts() -> list[str]:
    """The allowlist from the current orqo app's config; empty when unset (or no app)."""
    if not has_app_context():
        return []
    return [host.lower().rstrip(".") for host in
            as_name_list(current_app.config.get(ALLOWED_HOSTS_KEY))]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def check_url(url, allowed: list[str]) -> str:
    """Return ``url`` without its trailing slash if orqo may call it; else raise.

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
    if parts.scheme == "http" and not is_loopback(host):
        raise RemoteAdapterError(f"The adapter URL must use https (http is allowed only on "
                                 f"loopback), not http://{host}.")
    if allowed and host not in allowed:
        raise RemoteAdapterError(f"The host {host!r} is not in {ALLOWED_HOSTS_KEY}.")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def make_session() -> requests.Session:
    """A session with a connection pool and no retries (orqo never retries a stage call)."""
    session = requests.Session()
    pooled = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("https://", pooled)
    session.mount("http://", pooled)
    return session


def _cause(exc: Exception) -> str:
    """A short cause of a connection failure ("Connection refused"), without the URL."""
    reason = exc.args[0] if exc.args else exc
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    found = _ERRNO.search(str(reason))
    return found.group(1).strip() if found else type(reason).__name__


def call(session: requests.Session, method: str, base_url: str, path: str, *,
         connect_timeout: float, read_timeout: float, limit: int, payload: bytes | None = None,
         deadline: float | None = None) -> tuple[int, bytes]:
    """Send one request to ``base_url + path``; return ``(status, body)``.

    :param read_timeout: seconds to wait for each read from the adapter.
    :param limit: the largest body accepted, in bytes.
    :param deadline: when set (on :data:`clock`), the body must be read by then.
    :raises RemoteAdapterError: on a connection failure, a timeout, a redirect or a body over
        ``limit``.
    """
    where = f"remote adapter {base_url}: {method} {path}"
    headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
    if payload is not None:
        headers["Content-Type"] = "application/json"
    try:
        with session.request(method, base_url + path, data=payload, headers=headers,
                             timeout=(connect_timeout, read_timeout), allow_redirects=False,
                             stream=True) as response:
            if 300 <= response.status_code < 400:
                raise RemoteAdapterError(f"{where} answered a redirect (HTTP "
                                         f"{response.status_code}), which orqo does not follow; "
                                         "configure the adapter's final URL.")
            return response.status_code, _read(response, limit, deadline, where)
    except requests.ConnectTimeout:
        raise RemoteAdapterError(f"{where}: could not connect within {connect_timeout:.3g} s."
                                 ) from None
    except requests.ReadTimeout:
        raise RemoteAdapterError(f"{where}: timed out, no answer within {read_timeout:.3g} s."
                                 ) from None
    except requests.ConnectionError as exc:
        if exc.args and isinstance(exc.args[0], ReadTimeoutError):  # raised while streaming
            raise RemoteAdapterError(f"{where}: timed out while reading the answer.") from None
        raise RemoteAdapterError(f"{where}: connection failed ({_cause(exc)}).") from None
    except requests.RequestException as exc:
        raise RemoteAdapterError(f"{where}: request failed ({type(exc).__name__}).") from None


def _read(response: requests.Response, limit: int, deadline: float | None, where: str) -> bytes:
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limit:
        raise RemoteAdapterError(f"{where}: the answer is {declared} bytes, over the limit of "
                                 f"{limit} bytes.")
    chunks, size = [], 0
    for chunk in response.iter_content(chunk_size=_CHUNK):
        size += len(chunk)
        if size > limit:
            raise RemoteAdapterError(f"{where}: the answer is over the limit of {limit} bytes.")
        # The read timeout bounds each read, not the whole body: a trickle is cut off here.
        if deadline is not None and clock() > deadline:
            raise RemoteAdapterError(f"{where}: timed out while reading the answer.")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_json(body: bytes, where: str):
    """``body`` as JSON; :class:`RemoteAdapterError` when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise RemoteAdapterError(f"{where}: the answer is not valid JSON.") from None
