"""Which addresses the remote adapter connects to (issue 15 #4), and where credentials go.

The address policy is tested on its own and through ``resolve`` with an injected
``socket.getaddrinfo``: nothing here opens a connection.
"""
import ipaddress
import socket

import pytest
from orqo_remote import RemoteAdapter
from orqo_remote.addresses import names_loopback
from orqo_remote.addresses import refusal
from orqo_remote.addresses import resolve
from orqo_remote.errors import AddressRefused

PUBLIC = ["93.184.216.34", "1.1.1.1", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946",
          "2001:4860:4860::8888"]

REFUSED = [
    ("10.0.0.7", "private"), ("10.255.255.255", "private"), ("172.16.0.1", "private"),
    ("172.31.255.254", "private"), ("192.168.1.10", "private"),
    ("100.64.0.1", "private"), ("100.127.255.254", "private"),  # shared address space, CGNAT
    ("fc00::1", "private"), ("fd12:3456:789a::1", "private"),
    ("169.254.169.254", "link-local"), ("169.254.0.1", "link-local"),
    ("fe80::1", "link-local"), ("febf::1", "link-local"),
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("0.0.0.0", "unspecified"), ("::", "unspecified"),
    ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"), ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"), ("255.255.255.255", "reserved"), ("192.0.2.1", "reserved"),
    ("198.18.0.1", "reserved"), ("0.1.2.3", "reserved"),
    # IPv4 addresses carried inside IPv6
    ("::ffff:10.0.0.7", "private"), ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "link-local"), ("2002:a00:7::1", "private"),  # 6to4 of 10.0.0.7
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
    ("2001:0:4136:e378:8000:63bf:f5ff:fff8", "private"),  # Teredo, client 10.0.0.7
]


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address):
    assert refusal(ipaddress.ip_address(address), loopback_named=False) is None


@pytest.mark.parametrize("address,kind", REFUSED)
def test_non_public_addresses_are_refused(address, kind):
    assert refusal(ipaddress.ip_address(address), loopback_named=False) == kind


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_allowed_when_the_url_names_loopback(address):
    assert refusal(ipaddress.ip_address(address), loopback_named=True) is None


@pytest.mark.parametrize("address", ["93.184.216.34", "10.0.0.7", "169.254.169.254", "fe80::1"])
def test_a_url_naming_loopback_may_reach_only_loopback(address):
    assert refusal(ipaddress.ip_address(address), loopback_named=True) == (
        "not loopback, though the URL names loopback")


@pytest.mark.parametrize("host,named", [
    ("localhost", True), ("LOCALHOST.", True), ("127.0.0.1", True), ("127.8.9.10", True),
    ("::1", True), ("::ffff:127.0.0.1", True), ("localhost.evil.example", False),
    ("127.0.0.1.nip.io", False), ("adapter.example", False), ("10.0.0.7", False),
])
def test_which_urls_name_loopback(host, named):
    assert names_loopback(host) is named


def fake_getaddrinfo(table, asked):
    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
        asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (ip, port, 0, 0) if ":" in ip else (ip, port)) for ip in table[host]]
    return getaddrinfo


@pytest.mark.parametrize("host,addresses,kind", [
    ("adapter.example", ["10.0.0.7"], "private"),
    ("adapter.example", ["127.0.0.1"], "loopback"),  # a public-looking name on loopback
    ("adapter.example", ["93.184.216.34", "10.0.0.7"], "private"),  # every address counts
    ("adapter.example", ["2606:2800:220:1::1", "fe80::1%eth0"], "link-local"),
    ("metadata.example", ["169.254.169.254"], "link-local"),
    ("localhost", ["127.0.0.1", "10.0.0.7"], "not loopback"),
    ("localhost", ["192.168.1.10"], "not loopback"),
])
def test_a_host_resolving_to_a_refused_address_is_refused(monkeypatch, host, addresses, kind):
    asked = []
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({host: addresses}, asked))
    with pytest.raises(AddressRefused, match=kind) as excinfo:
        resolve(host, 443, 1.0, check=True)
    assert "REMOTE_ADAPTER_ALLOWED_HOSTS" in str(excinfo.value)
    assert asked == [host]


@pytest.mark.parametrize("host,addresses", [
    ("adapter.example", ["93.184.216.34"]),
    ("adapter.example", ["93.184.216.34", "2606:2800:220:1::1"]),
    ("localhost", ["127.0.0.1", "::1"]),
    ("127.0.0.1", ["127.0.0.1"]),
])
def test_a_host_resolving_to_allowed_addresses_gives_exactly_those(monkeypatch, host,
                                                                   addresses):
    asked = []
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({host: addresses}, asked))
    infos = resolve(host, 443, 1.0, check=True)
    assert [info[4][0] for info in infos] == addresses
    assert asked == [host]  # resolved once: the caller connects to these, not to a new answer


def test_without_the_check_any_address_is_given(monkeypatch):
    asked = []
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({"internal": ["10.0.0.7"]},
                                                                asked))
    assert [info[4][0] for info in resolve("internal", 443, 1.0, check=False)] == ["10.0.0.7"]


def test_an_unknown_host_is_not_found(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo({}, []))
    with pytest.raises(socket.gaierror):
        resolve("nowhere.example", 443, 1.0, check=True)


# --- where the credentials go (core asks for them again when this changes) ----------------

@pytest.mark.parametrize("url,destination", [
    ("https://slack-adapter.example", "https://slack-adapter.example:443"),
    ("https://Slack-Adapter.EXAMPLE./adapters/slack/", "https://slack-adapter.example:443"),
    ("HTTPS://slack-adapter.example:443/x", "https://slack-adapter.example:443"),
    ("https://slack-adapter.example:8443", "https://slack-adapter.example:8443"),
    ("http://127.0.0.1:8100/a", "http://127.0.0.1:8100"),
    ("http://localhost", "http://localhost:80"),
    ("http://[::1]:8100", "http://[::1]:8100"),
    ("  https://slack-adapter.example/  ", "https://slack-adapter.example:443"),
])
def test_the_credentials_destination_is_the_normalised_origin(url, destination):
    assert RemoteAdapter.credentials_destination({"url": url}) == destination


@pytest.mark.parametrize("other", [
    "https://evil.example", "https://slack-adapter.example:8443",
    "http://slack-adapter.example", "https://slack-adapter.example.evil.example",
    "https://127.0.0.1",
])
def test_another_host_port_or_scheme_is_another_destination(other):
    same = RemoteAdapter.credentials_destination({"url": "https://slack-adapter.example/v1"})
    assert same == RemoteAdapter.credentials_destination(
        {"url": "https://SLACK-adapter.example:443/v2/"})
    assert RemoteAdapter.credentials_destination({"url": other}) != same


@pytest.mark.parametrize("config", [{}, {"url": ""}, {"url": None}, None])
def test_no_url_is_no_destination(config):
    assert RemoteAdapter.credentials_destination(config) is None


def test_an_unparsable_url_is_a_destination_of_its_own():
    assert RemoteAdapter.credentials_destination({"url": "https://a.example:99999"}) == (
        "https://a.example:99999")
