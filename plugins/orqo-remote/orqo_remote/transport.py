"""The connections orqo opens to remote adapters: address-checked, pinned and on a deadline.

requests and urllib3 bound each socket operation (connect, each read) by its own timeout,
never a whole call: an adapter that answers one byte at a time just inside the read timeout
holds a call for as long as it likes. Here every call runs inside :func:`bounded`, which sets
a deadline for the calling thread, and every connection orqo opens

* resolves its host once, within what is left of the deadline, checks every address with
  :func:`orqo_remote.addresses.resolve` and connects to the checked address itself (TLS still
  verifies the certificate for the URL's host name);
* bounds every send and every read of the request and its answer, headers included, by what is
  left of the deadline, so a trickle is cut off when the deadline passes.

Use :func:`make_session` for a :class:`requests.Session` whose connections are made so.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import socket
import threading
import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError
from urllib3.exceptions import NameResolutionError
from urllib3.exceptions import NewConnectionError

from orqo_remote import addresses


@dataclasses.dataclass(frozen=True)
class Bounds:
    """What the calling thread's connections must respect."""

    #: On :func:`time.monotonic`; None: no deadline.
    deadline: float | None = None
    #: Whether resolved addresses are checked (not when an allowlist names the hosts).
    check_addresses: bool = True


_STRICT = Bounds()
_local = threading.local()


@contextlib.contextmanager
def bounded(seconds: float | None, check_addresses: bool):
    """Within the block, this thread's connections end all work ``seconds`` from now."""
    previous = getattr(_local, "bounds", None)
    deadline = None if seconds is None else time.monotonic() + seconds
    _local.bounds = Bounds(deadline, check_addresses)
    try:
        yield
    finally:
        _local.bounds = previous


def current_bounds() -> Bounds:
    """The calling thread's :class:`Bounds` (addresses checked, no deadline, outside a block)."""
    return getattr(_local, "bounds", None) or _STRICT


def time_left(timeout: float | None) -> float | None:
    """``timeout`` capped by what is left of the deadline.

    :raises TimeoutError: when the deadline has passed.
    """
    deadline = current_bounds().deadline
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


class _Pinned:
    """Resolve once, check, connect to the checked address; bound the socket's operations."""

    def _new_conn(self) -> socket.socket:
        bounds = current_bounds()
        try:
            infos = addresses.resolve(self._dns_host, self.port, time_left(self.timeout),
                                      check=bounds.check_addresses)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from exc
        error = None
        for family, kind, proto, _name, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(time_left(self.timeout))
                sock.connect(sockaddr)
                sock.settimeout(time_left(self.timeout))  # the TLS handshake's bound
                return sock
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out."
                                          ) from exc
            except OSError as exc:
                sock.close()
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")

    def connect(self):
        """Connect (and for https, handshake), then bound every later send and read."""
        super().connect()
        self.sock = DeadlineSocket(self.sock)


class PinnedHTTPConnection(_Pinned, HTTPConnection):
    """An http connection to a checked address, on the calling thread's deadline."""


class PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    """An https connection to a checked address, on the calling thread's deadline."""


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """A requests transport whose pools make :class:`PinnedHTTPConnection` and
    :class:`PinnedHTTPSConnection`."""

    def init_poolmanager(self, *args, **kwargs):
        """Pools as requests makes them, with pinned connections."""
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PinnedHTTPPool,
                                                   "https": _PinnedHTTPSPool}


def make_session() -> requests.Session:
    """A session with pinned, deadline-bound connections, a pool and no retries (orqo never
    retries a stage call), ignoring proxy and ``.netrc`` settings from the environment (a
    proxy would resolve the host itself, past the address check)."""
    session = requests.Session()
    session.trust_env = False
    pooled = PinnedAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
    session.mount("https://", pooled)
    session.mount("http://", pooled)
    return session
