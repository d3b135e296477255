"""Fixtures for the remote adapter's tests: loopback servers, and a guard that keeps every
connection on loopback."""
import ipaddress
import socket

import pytest
from orqo_remote.testing import LoopbackAdapter


@pytest.fixture
def loopback_adapter():
    """Factory: ``loopback_adapter(behaviour, manifest=None)``; stopped after the test."""
    started = []

    def factory(behaviour, manifest=None):
        started.append(LoopbackAdapter(behaviour, manifest))
        return started[-1]

    yield factory
    for server in started:
        server.stop()


@pytest.fixture
def loopback_only(monkeypatch):
    """Every TCP connect in the test is recorded; any to a non-loopback address is stopped
    before it leaves the machine (raised as refused), whatever the code under test does."""
    attempts = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0].split("%", 1)[0]
            attempts.append(host)
            if not ipaddress.ip_address(host).is_loopback:
                raise ConnectionRefusedError(f"test guard: no connection to {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture
def resolver(monkeypatch):
    """``resolver({"host": ["10.0.0.7", ...]})``: ``socket.getaddrinfo`` answers those names
    with those addresses (a list per call to cycle through: ``[[first], [later]]``), raises
    not-found for other non-loopback names, and records each name asked."""
    asked = []
    real = socket.getaddrinfo

    def install(table):
        def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
            asked.append(host)
            if host not in table:
                if host in ("127.0.0.1", "::1"):
                    return real(host, port, family, type, proto, flags)
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            answers = table[host]
            if answers and isinstance(answers[0], list):  # one list per call; the last repeats
                answers = answers[min(asked.count(host), len(answers)) - 1]
            return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6,
                     "", (ip, port, 0, 0) if ":" in ip else (ip, port)) for ip in answers]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        return asked

    return install
