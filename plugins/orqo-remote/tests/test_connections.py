"""The remote adapter over real sockets on loopback (issue 15 #4 and #9).

* A budget holds on every read: an adapter answering one byte at a time is cut off when the
  delivery's budget (or the manifest's MANIFEST_TIMEOUT) runs out, headers or body.
* Every way of not reaching the adapter gives the same reason; the cause is only logged.
* Resolved addresses are checked on every connection, when the App is saved and on each stage
  call, and the connection goes to the address checked.

Every connection goes to 127.0.0.1: names are answered by an injected ``getaddrinfo``, and the
``loopback_only`` guard stops any connect to another address before it leaves the machine.
"""
import json
import socket
import time

import orqo_remote
import pytest
import requests
from orqo_remote.testing import answer
from orqo_remote.testing import http_answer
from orqo_remote.testing import reset
from orqo_remote.testing import silent
from orqo_remote.testing import trickle

from orqo.errors import ApiError
from orqo.testing import Harness
from orqo.testing.signers import hmac_headers

UNREACHABLE = "timed out or connection failed; the adapter could not be reached in time."
SECRET = "loopback-signing-secret-4c1d"
CREDENTIALS = {"signing_secret": SECRET}
BODY = json.dumps({"id": "m-1", "sender": "ada", "text": "hello? ⏳"}).encode()
ACCEPT = answer({"accepted": True})
BUDGET = 1.0
#: How far past a budget an answer may come: the test client, the ledger write, a slow CI.
SLACK = 1.0


@pytest.fixture
def harness(make_app, loopback_only):
    return Harness(make_app(plugins=[orqo_remote]))


def deliver(harness, app_id):
    """Deliver one signed message; return (response, seconds it took)."""
    started = time.monotonic()
    response = harness.deliver(app_id, BODY, hmac_headers(SECRET, BODY))
    return response, time.monotonic() - started


def assert_unreachable(harness, response, url, stage="verify", path="/verify-webhook"):
    """503 adapter_error with Retry-After, recorded with exactly the one generic reason."""
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"]
    assert response.json["error"] == {
        "code": "adapter_error", "details": {},
        "message": "The App's adapter could not handle the delivery; retry later."}
    [entry] = harness.ledger()
    assert (entry["outcome"], entry["status_code"]) == ("adapter_error", 503)
    assert entry["reason"] == (f"plugin 'remote adapter' failed in {stage}: RemoteAdapterError: "
                               f"remote adapter {url}: POST {path}: {UNREACHABLE}")


# --- #9: the budget holds on every read ---------------------------------------------------

STAGE_ANSWER = http_answer({"accepted": True, "reason": "x" * 40})


@pytest.mark.parametrize("fast_head", [False, True], ids=["headers-trickled",
                                                           "body-trickled"])
def test_a_trickling_stage_answer_is_cut_off_at_the_budget(harness, loopback_adapter,
                                                           fast_head):
    adapter = loopback_adapter(trickle(STAGE_ANSWER, 0.2, fast_head))
    app_id = harness.add_app("remote", CREDENTIALS,
                             {"url": adapter.url, "budget_seconds": BUDGET})
    response, took = deliver(harness, app_id)
    assert took < BUDGET + SLACK, f"answered after {took:.2f} s"
    assert_unreachable(harness, response, adapter.url)


def test_a_trickling_adapter_gets_the_platform_a_503_from_real_gunicorn(make_server,
                                                                        loopback_adapter):
    adapter = loopback_adapter(trickle(STAGE_ANSWER, 0.2))
    server = make_server(workers=1)
    app = server.cli_json("apps", "create", "--name", "trickle", "--adapter", "remote",
                          "--config", f"url={adapter.url}", "--config",
                          f"budget_seconds={BUDGET}", "--credential", f"signing_secret={SECRET}")
    started = time.monotonic()
    response = requests.post(server.url + app["webhook_path"], data=BODY,
                             headers=hmac_headers(SECRET, BODY), timeout=30)
    took = time.monotonic() - started
    assert took < BUDGET + SLACK, f"answered after {took:.2f} s"
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"]
    assert response.json()["error"]["code"] == "adapter_error"
    [entry] = server.cli_json("deliveries", "list", "--json")
    assert entry["outcome"] == "adapter_error"
    assert entry["reason"].endswith(UNREACHABLE)
    assert SECRET not in server.log()


def test_a_trickling_manifest_is_cut_off_at_manifest_timeout(harness, loopback_adapter,
                                                             monkeypatch):
    monkeypatch.setattr(orqo_remote.adapter, "MANIFEST_TIMEOUT", 1.0)
    manifest = http_answer({"schema_version": "1.0", "name": "custom",
                            "capabilities": ["receive"], "credentials": []})
    adapter = loopback_adapter(ACCEPT, manifest=trickle(manifest, 0.2))
    started = time.monotonic()
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", {}, {"url": adapter.url})
    took = time.monotonic() - started
    assert took < 1.0 + SLACK, f"refused after {took:.2f} s"
    assert excinfo.value.status == 422
    assert excinfo.value.details == {"config": {"url": [
        f"remote adapter {adapter.url}: GET /manifest.json: {UNREACHABLE}"]}}


def test_an_adapter_that_answers_in_time_is_used(harness, loopback_adapter):
    adapter = loopback_adapter(answer({"/verify-webhook": {"accepted": True},
                                       "/parse-inbound": {"messages": [], "reason": "quiet"}}))
    app_id = harness.add_app("remote", CREDENTIALS,
                             {"url": adapter.url, "budget_seconds": BUDGET})
    response, _ = deliver(harness, app_id)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert harness.ledger()[0]["reason"] == "quiet"
    assert [path for path, _ in adapter.requests] == [
        "/manifest.json", "/verify-webhook", "/parse-inbound"]


# --- #4: one reason for every way of not reaching the adapter -----------------------------

def stopped(adapter, resolver):
    adapter.stop()  # nothing listens on the port any more: refused


def not_found(adapter, resolver):
    resolver({})  # "localhost" no longer resolves


def resolver_hangs(adapter, resolver, monkeypatch):
    def hang(*args, **kwargs):
        time.sleep(BUDGET + 1)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    monkeypatch.setattr(socket, "getaddrinfo", hang)


UNREACHABLE_CASES = {
    "refused": (stopped, None),
    "not-found": (not_found, None),
    "resolver-hangs": (resolver_hangs, None),
    "never-answers": (None, silent),
    "reset": (None, reset),
}


@pytest.mark.parametrize("case", sorted(UNREACHABLE_CASES))
def test_every_way_of_not_reaching_the_adapter_gives_one_reason(harness, loopback_adapter,
                                                                 resolver, monkeypatch,
                                                                 caplog, case):
    change, behaviour = UNREACHABLE_CASES[case]
    resolver({"localhost": ["127.0.0.1"]})
    adapter = loopback_adapter(behaviour or ACCEPT)
    url = f"http://localhost:{adapter.port}"
    app_id = harness.add_app("remote", CREDENTIALS, {"url": url, "budget_seconds": BUDGET})
    if change is resolver_hangs:
        change(adapter, resolver, monkeypatch)
    elif change:
        change(adapter, resolver)
    caplog.set_level("WARNING", logger="orqo.remote")
    response, took = deliver(harness, app_id)
    assert took < BUDGET + SLACK, f"answered after {took:.2f} s"
    assert_unreachable(harness, response, url)
    # The cause is for orqo's operator: in its log, without secrets.
    [warning] = [r for r in caplog.records if r.name == "orqo.remote"]
    assert warning.levelname == "WARNING" and "(cause: " in warning.getMessage()
    assert SECRET not in warning.getMessage()


@pytest.mark.parametrize("case", ["refused", "not-found", "never-answers"])
def test_saving_an_app_gives_one_reason_however_the_adapter_is_unreachable(
        harness, loopback_adapter, resolver, monkeypatch, case):
    monkeypatch.setattr(orqo_remote.adapter, "MANIFEST_TIMEOUT", 1.0)
    resolver({"localhost": ["127.0.0.1"]} if case != "not-found" else {})
    adapter = loopback_adapter(ACCEPT, manifest=silent)
    if case == "refused":
        adapter.stop()
    url = f"http://localhost:{adapter.port}"
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", CREDENTIALS, {"url": url})
    assert excinfo.value.details == {"config": {"url": [
        f"remote adapter {url}: GET /manifest.json: {UNREACHABLE}"]}}


# --- #4: addresses checked after resolution, on every connection --------------------------

def test_a_public_looking_name_on_loopback_is_refused_without_connecting(
        harness, loopback_adapter, resolver, loopback_only):
    resolver({"adapter.example": ["127.0.0.1"]})
    adapter = loopback_adapter(ACCEPT)
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", CREDENTIALS, {"url": f"https://adapter.example:{adapter.port}"})
    [reason] = excinfo.value.details["config"]["url"]
    assert "resolves to an address orqo does not connect to (loopback)" in reason
    assert adapter.connections == 0 and loopback_only == []


@pytest.mark.parametrize("address,kind", [("10.0.0.7", "private"),
                                          ("169.254.169.254", "link-local"),
                                          ("fd00::7", "private")])
def test_a_name_on_an_internal_address_is_refused_without_connecting(harness, resolver,
                                                                     loopback_only,
                                                                     address, kind):
    resolver({"adapter.example": [address]})
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", CREDENTIALS, {"url": "https://adapter.example"})
    [reason] = excinfo.value.details["config"]["url"]
    assert f"resolves to an address orqo does not connect to ({kind})" in reason
    assert loopback_only == []  # not even tried


def test_the_address_is_checked_again_on_every_stage_call(harness, loopback_adapter, resolver,
                                                          loopback_only):
    resolver({"localhost": ["127.0.0.1"]})
    adapter = loopback_adapter(ACCEPT)
    url = f"http://localhost:{adapter.port}"
    app_id = harness.add_app("remote", CREDENTIALS, {"url": url, "budget_seconds": BUDGET})
    resolver({"localhost": ["169.254.169.254"]})  # the name now points elsewhere
    response, _ = deliver(harness, app_id)
    assert response.status_code == 503
    [entry] = harness.ledger()
    assert "(not loopback, though the URL names loopback)" in entry["reason"]
    assert set(loopback_only) == {"127.0.0.1"}  # the manifest's connection, nothing else
    assert [path for path, _ in adapter.requests] == ["/manifest.json"]


def test_the_connection_goes_to_the_address_checked(harness, loopback_adapter, resolver,
                                                    loopback_only):
    # A rebinding name: checked as loopback, then answering an internal address.
    asked = resolver({"localhost": [["127.0.0.1"], ["10.0.0.7"]]})
    adapter = loopback_adapter(ACCEPT)
    harness.add_app("remote", CREDENTIALS, {"url": f"http://localhost:{adapter.port}"})
    assert asked == ["localhost"]  # resolved once, for the one connection
    assert loopback_only == ["127.0.0.1"]
    assert adapter.requests[0][1]["Host"] == f"localhost:{adapter.port}"


def test_an_allowlisted_host_is_not_address_checked(make_app, loopback_adapter, resolver,
                                                    loopback_only):
    harness = Harness(make_app(plugins=[orqo_remote],
                               REMOTE_ADAPTER_ALLOWED_HOSTS="adapter.internal"))
    resolver({"adapter.internal": ["127.0.0.1"]})
    adapter = loopback_adapter(ACCEPT)  # plain TCP: orqo's TLS handshake fails on it
    url = f"https://adapter.internal:{adapter.port}"
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", CREDENTIALS, {"url": url})
    assert excinfo.value.details["config"]["url"] == [
        f"remote adapter {url}: GET /manifest.json: {UNREACHABLE}"]
    assert adapter.connections == 1  # connected: the operator listed the host
