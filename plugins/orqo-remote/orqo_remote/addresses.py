"""Which addresses orqo connects a remote adapter on, decided after DNS resolution.

With ``REMOTE_ADAPTER_ALLOWED_HOSTS`` unset, every address a host resolves to must be a public
(globally routable, unicast) address. Loopback is the one exception, and only when the URL
itself names loopback (``localhost``, a literal ``127.x.y.z`` or ``::1``): then every address
must be loopback. Refused: private (RFC 1918, ``fc00::/7``), shared/CGNAT (``100.64.0.0/10``),
link-local (``169.254.0.0/16``, ``fe80::/10``), unspecified, multicast and reserved addresses,
loopback reached through another name, and IPv4 addresses of those kinds embedded in IPv6
(IPv4-mapped, 6to4, Teredo, NAT64). One refused address refuses the host, whatever the others.

:func:`resolve` resolves once, checks, and returns the checked addresses: the caller connects
to exactly those (no second resolution that a DNS rebinding could answer differently).
"""
from __future__ import annotations

import ipaddress
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from orqo_remote.errors import AddressRefused

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: RFC 1918, shared address space (CGNAT, RFC 6598) and unique local IPv6 (RFC 4193).
_PRIVATE = [ipaddress.ip_network(network) for network in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_resolvers: dict[int, ThreadPoolExecutor] = {}
_resolvers_lock = threading.Lock()


def _resolver() -> ThreadPoolExecutor:
    """This process's resolver threads (so that a resolver that hangs cannot hold a call past
    its deadline); per process, as a forked worker does not inherit its parent's threads."""
    pid = os.getpid()
    with _resolvers_lock:
        if pid not in _resolvers:
            _resolvers.clear()
            _resolvers[pid] = ThreadPoolExecutor(max_workers=8,
                                                 thread_name_prefix="orqo-remote-dns")
        return _resolvers[pid]


def names_loopback(host: str) -> bool:
    """Whether the URL's host itself names loopback: ``localhost`` or a loopback literal."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return _is_loopback(address)


def _is_loopback(address: Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def _embedded(address: Address) -> list[Address]:
    """``address`` and any IPv4 address it carries (mapped, 6to4, Teredo, NAT64)."""
    found = []
    if isinstance(address, ipaddress.IPv6Address):
        found += [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
        if address.teredo:
            found += list(address.teredo)
        if address in _NAT64:
            found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found + [address]  # what is carried says more than the wrapper's range


def refusal(address: Address, loopback_named: bool) -> str | None:
    """Why orqo may not connect to ``address`` (a short kind, e.g. ``"private"``), or None.

    :param loopback_named: the URL names loopback (see :func:`names_loopback`), so loopback is
        the only kind allowed.
    """
    if loopback_named:
        return None if _is_loopback(address) else "not loopback, though the URL names loopback"
    for candidate in _embedded(address):
        if candidate.is_unspecified:
            return "unspecified"
        if candidate.is_loopback:
            return "loopback"
        if candidate.is_link_local:
            return "link-local"
        if candidate.is_multicast:
            return "multicast"
        if any(candidate in network for network in _PRIVATE
               if network.version == candidate.version):
            return "private"
        # The rest of the special-purpose ranges: documentation, benchmarking, 0/8, 240/4...
        if candidate.is_reserved or candidate.is_private or not candidate.is_global:
            return "reserved"
    return None


def resolve(host: str, port: int, timeout: float | None, *, check: bool) -> list[tuple]:
    """``socket.getaddrinfo`` results for ``host`` (TCP), every address checked by
    :func:`refusal` when ``check``; the caller connects only to these.

    :param timeout: seconds to wait for the resolver (None: no limit).
    :raises AddressRefused: when any address is refused, naming the host and the kind.
    :raises socket.gaierror: when the host does not resolve.
    :raises TimeoutError: when the resolver did not answer within ``timeout``.
    """
    lookup = _resolver().submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout)
    except FutureTimeout:
        lookup.cancel()
        raise TimeoutError(f"resolving {host} took over {timeout:.3g} s") from None
    if not infos:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    if check:
        loopback_named = names_loopback(host)
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
            kind = refusal(address, loopback_named)
            if kind:
                raise AddressRefused(
                    f"The adapter host {host!r} resolves to an address orqo does not connect "
                    f"to ({kind}). Use a public host, or list the host in "
                    "REMOTE_ADAPTER_ALLOWED_HOSTS to allow an internal one.")
    return infos
