"""HTTP calls to endpoints orqo does not control, bounded by one deadline and in size.

requests and urllib3 bound each socket operation (connect, each read) by its own timeout,
never a whole call: an endpoint that answers one byte at a time just inside the read timeout
holds a call for as long as it likes, in its headers or its body. Here every call runs inside
:func:`bounded`, which sets a deadline for the calling thread, and the connections of
:func:`make_session` bound every connect, send and read, headers included, by what is left of
it. :func:`post` also keeps at most a given number of bytes of the answer. Name resolution by
the system resolver is bounded by its own timeouts, not the deadline (the remote adapter
plugin resolves within the deadline itself).

orqo's push worker (:mod:`orqo.services.push`) calls the agent endpoint with these; the remote
adapter plugin (``orqo_remote.transport``) builds its address-checked connections on them.
"""
from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

_CHUNK = 16 * 1024
#: The longest ``Retry-After`` read as seconds: nine digits (some 31 years).
RETRY_AFTER_MAX_DIGITS = 9
_local = threading.local()


class DeadlineExceeded(requests.Timeout):
    """The call did not finish within its deadline (raised by :func:`post`)."""


@contextlib.contextmanager
def bounded(seconds: float | None):
    """Within the block, this thread's calls end all work ``seconds`` from now (None: no
    deadline)."""
    previous = getattr(_local, "deadline", None)
    _local.deadline = None if seconds is None else time.monotonic() + seconds
    try:
        yield
    finally:
        _local.deadline = previous


def expired() -> bool:
    """Whether the calling thread's deadline has passed."""
    deadline = getattr(_local, "deadline", None)
    return deadline is not None and time.monotonic() >= deadline


def time_left(timeout: float | None) -> float | None:
    """``timeout`` capped by what is left of the calling thread's deadline.

    :raises TimeoutError: when the deadline has passed.
    """
    deadline = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class DeadlineSocket:
    """A connected socket whose sends and reads each wait at most what is left of the
    deadline of the thread using it (a pooled connection serves many calls)."""

    def __init__(self, sock):
        self._sock = sock
        self._timeout = sock.gettimeout()
        self._io_refs = 0
        self._closed = False

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def settimeout(self, timeout):
        """The timeout of one operation when no deadline is nearer."""
        self._timeout = timeout
        self._sock.settimeout(timeout)

    def gettimeout(self):
        """The timeout of one operation when no deadline is nearer."""
        return self._timeout

    def _limit(self):
        self._sock.settimeout(time_left(self._timeout))

    def recv_into(self, buffer, nbytes=0, flags=0):
        """``socket.recv_into`` within the deadline."""
        self._limit()
        return self._sock.recv_into(buffer, nbytes, flags)

    def recv(self, bufsize, flags=0):
        """``socket.recv`` within the deadline."""
        self._limit()
        return self._sock.recv(bufsize, flags)

    def sendall(self, data, flags=0):
        """``socket.sendall`` within the deadline."""
        self._limit()
        return self._sock.sendall(data, flags)

    def send(self, data, flags=0):
        """``socket.send`` within the deadline."""
        self._limit()
        return self._sock.send(data, flags)

    def makefile(self, mode="rb", buffering=None, **_kwargs):
        """A binary reader whose reads go through this socket (http.client reads with it)."""
        if mode != "rb":
            raise ValueError(f"only mode 'rb' is supported, not {mode!r}")
        self._io_refs += 1
        raw = socket.SocketIO(self, "rb")
        return io.BufferedReader(raw, buffering if buffering and buffering > 0
                                 else io.DEFAULT_BUFFER_SIZE)

    # As socket.socket does: closing waits until the files made from it are closed too, since
    # http.client closes the connection while its response is still reading the body.
    def _decref_socketios(self):
        self._io_refs -= 1
        if self._closed and self._io_refs <= 0:
            self._sock.close()

    def close(self):
        """Close the socket once no file made from it is open."""
        self._closed = True
        if self._io_refs <= 0:
            self._sock.close()


class Bounded:
    """A urllib3 connection mixin: connecting waits at most what is left of the deadline, and
    every later send and read of the connection too."""

    def _new_conn(self) -> socket.socket:
        self.timeout = time_left(self.timeout)
        return super()._new_conn()

    def connect(self):
        """Connect (and for https, handshake), then bound every later send and read."""
        super().connect()
        self.sock = DeadlineSocket(self.sock)


class BoundedHTTPConnection(Bounded, HTTPConnection):
    """An http connection on the calling thread's deadline."""


class BoundedHTTPSConnection(Bounded, HTTPSConnection):
    """An https connection on the calling thread's deadline."""


class BoundedAdapter(HTTPAdapter):
    """A requests transport whose pools make the connection classes given (by default
    :class:`BoundedHTTPConnection` and :class:`BoundedHTTPSConnection`)."""

    def __init__(self, http=BoundedHTTPConnection, https=BoundedHTTPSConnection, **kwargs):
        self._pools = {
            "http": type("BoundedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("BoundedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        """Pools as requests makes them, with bounded connections."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._pools)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        """A proxy's pools, with bounded connections too."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(self._pools)
        return manager


def make_session(adapter: HTTPAdapter | None = None, trust_env: bool = True
                 ) -> requests.Session:
    """A session whose calls a :func:`bounded` block bounds, through ``adapter`` (default: a
    :class:`BoundedAdapter` without retries); ``trust_env`` False ignores proxy and ``.netrc``
    settings from the environment."""
    session = requests.Session()
    session.trust_env = trust_env
    adapter = adapter or BoundedAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass
class Answer:
    """What came back: the status and headers, and at most ``keep`` bytes of the body."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes
    #: The body was not read to its end (longer than ``keep``, or cut off by the deadline or
    #: the connection): what ``body`` holds is its start.
    cut_off: bool


def post(session: requests.Session, url: str, *, data: bytes, headers: dict,
         connect_timeout: float, total_seconds: float, keep: int) -> Answer:
    """POST ``data`` to ``url`` within ``total_seconds`` in all; redirects are not followed.

    The status line and headers decide the answer; the body is only kept, up to ``keep``
    bytes, and its loss (too long, too slow, connection cut) is noted in ``cut_off``.

    :raises DeadlineExceeded: no status and headers within ``total_seconds``.
    :raises requests.RequestException: the connection failed, or the answer was not HTTP.
    """
    if total_seconds <= 0:
        raise DeadlineExceeded("no time left to send")
    with bounded(total_seconds):
        try:
            with session.post(url, data=data, headers=headers, allow_redirects=False,
                              stream=True, timeout=(min(connect_timeout, total_seconds),
                                                    total_seconds)) as response:
                body, cut_off = _read(response, keep)
                return Answer(response.status_code, response.headers, body, cut_off)
        except (requests.RequestException, TimeoutError):
            if expired():
                raise DeadlineExceeded(
                    f"no answer within the deadline of {total_seconds:.3g} s") from None
            raise


def _read(response: requests.Response, keep: int) -> tuple[bytes, bool]:
    chunks, size = [], 0
    try:
        for chunk in response.iter_content(chunk_size=_CHUNK):
            chunks.append(chunk[:keep - size])
            size += len(chunk)
            if size > keep:
                return b"".join(chunks), True  # leaving the ``with`` closes the connection
    except (requests.RequestException, Urllib3Error, OSError):
        return b"".join(chunks), True
    return b"".join(chunks), False


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: ASCII digits (at most nine) or an HTTP date;
    None when absent or anything else. Never raises: the header is the receiver's to get wrong."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value) if len(value) <= RETRY_AFTER_MAX_DIGITS else None
    if len(value) > 64:  # an HTTP date is 29 characters
        return None
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:  # "-0000": a time in UTC
            when = when.replace(tzinfo=timezone.utc)
        return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
