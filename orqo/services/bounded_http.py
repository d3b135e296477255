"""HTTP exchanges bounded in time and in size, for calls to endpoints orqo does not control.

``requests`` applies its timeouts to each socket operation, so an answer that arrives one
byte at a time (in its headers or its body) keeps a caller waiting for as long as the other
side likes, and ``response.content`` holds the whole answer in memory, however large. Here:

* a :class:`Deadline` bounds the whole exchange (connect, send, every read): when it passes,
  the exchange's socket is shut down, which ends any read or write blocked on it. The sessions
  of :func:`make_session` tell the deadline about each socket they use;
* :func:`post` keeps at most ``keep`` bytes of the answer and closes the connection rather
  than read more.

Name resolution happens before there is a socket, so the system resolver's own timeouts
bound it, not the deadline.
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from typing import Mapping

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import HTTPError as Urllib3Error

_CHUNK = 16 * 1024
_current = threading.local()


class DeadlineExceeded(requests.Timeout):
    """The exchange did not finish within its deadline (raised by :func:`post`)."""


class Deadline:
    """A limit on the total time of the exchanges made inside ``with Deadline(seconds):`` in
    this thread."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True

    def remaining(self) -> float:
        """Seconds left, never below zero."""
        return max(0.0, self.ends_at - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        """Shut ``sock`` down when the deadline passes (at once if it has)."""
        with self._lock:
            if not self.expired:
                self._sockets.append(sock)
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _shut(sock)

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._timer.cancel()
        _current.deadline = None
        with self._lock:
            self._sockets = []


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # closed already, or never connected: nothing left to stop
        pass


def _watch(sock: socket.socket | None) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _WatchedMixin:
    """Hands each socket to the thread's current :class:`Deadline`, on a new connection and
    on every request over a kept-alive one."""

    def _new_conn(self):
        sock = super()._new_conn()
        _watch(sock)
        return sock

    def request(self, *args, **kwargs):
        _watch(self.sock)
        return super().request(*args, **kwargs)


class _WatchedHTTPConnection(_WatchedMixin, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_WatchedMixin, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


def make_session() -> requests.Session:
    """A session whose connections a :class:`Deadline` can cut short; no retries."""
    session = requests.Session()
    adapter = _WatchedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
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
    with Deadline(total_seconds) as deadline:
        try:
            with session.post(url, data=data, headers=headers, allow_redirects=False,
                              stream=True, timeout=(min(connect_timeout, total_seconds),
                                                    total_seconds)) as response:
                if deadline.expired:  # the headers may be cut short: the answer is not known
                    raise DeadlineExceeded(
                        f"no answer within the deadline of {total_seconds:.3g} s")
                body, cut_off = _read(response, keep)
                return Answer(response.status_code, response.headers, body, cut_off)
        except requests.RequestException:
            if deadline.expired:
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
