"""The connections orqo opens to remote adapters: address-checked, pinned and on a deadline.

Every call runs inside :func:`bounded`, which sets the calling thread's deadline
(:func:`orqo.deadlines.bounded`: every connect, send and read of the call, headers included, is
bounded by what is left of it) and whether addresses are checked. Every connection orqo opens
resolves its host once, within what is left of the deadline, checks every address with
:func:`orqo_remote.addresses.resolve` and connects to the checked address itself (TLS still
verifies the certificate for the URL's host name).

Use :func:`make_session` for a :class:`requests.Session` whose connections are made so.
"""
from __future__ import annotations

import contextlib
import socket
import threading

import requests
from urllib3.connection import HTTPConnection
from urllib3.connection import HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError
from urllib3.exceptions import NameResolutionError
from urllib3.exceptions import NewConnectionError

from orqo import deadlines
from orqo.deadlines import Bounded
from orqo.deadlines import time_left
from orqo_remote import addresses

_local = threading.local()


@contextlib.contextmanager
def bounded(seconds: float | None, check_addresses: bool):
    """Within the block, this thread's connections end all work ``seconds`` from now, and
    check the addresses they resolve unless ``check_addresses`` is false (an allowlist names
    the hosts)."""
    previous = getattr(_local, "check_addresses", True)
    _local.check_addresses = check_addresses
    try:
        with deadlines.bounded(seconds):
            yield
    finally:
        _local.check_addresses = previous


def checking_addresses() -> bool:
    """Whether the calling thread's connections check addresses (outside a block: yes)."""
    return getattr(_local, "check_addresses", True)


class _Pinned(Bounded):
    """Resolve once, check, connect to the checked address (:class:`orqo.deadlines.Bounded`
    then bounds the socket's operations)."""

    def _new_conn(self) -> socket.socket:
        try:
            infos = addresses.resolve(self._dns_host, self.port, time_left(self.timeout),
                                      check=checking_addresses())
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


class PinnedHTTPConnection(_Pinned, HTTPConnection):
    """An http connection to a checked address, on the calling thread's deadline."""


class PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    """An https connection to a checked address, on the calling thread's deadline."""


def make_session() -> requests.Session:
    """A session with pinned, deadline-bound connections, a pool and no retries (orqo never
    retries a stage call), ignoring proxy and ``.netrc`` settings from the environment (a
    proxy would resolve the host itself, past the address check)."""
    pooled = deadlines.BoundedAdapter(http=PinnedHTTPConnection, https=PinnedHTTPSConnection,
                                      pool_connections=4, pool_maxsize=16, max_retries=0)
    return deadlines.make_session(pooled, trust_env=False)
