"""Sending through a remote adapter with real processes, all on 127.0.0.1: orqo (gunicorn) and
a real ``orqo worker`` with a remote App → a real ``orqo adapter-serve custom`` process → a
receiving HTTP server standing in for the custom App's reply URL
(:class:`orqo.testing.platform.FakePlatform`).

The receiver checks the Standard Webhooks signature with the public library; the Contact's
answer to the sent message comes back through the same remote App with the id the receiver
gave as its ``reply_to``, and lands in the waitbox bound to that message. Then each kind of
answer of the reply URL, and each process going away, gives the result the contract says.
"""
import base64
import json

import pytest
import requests
from orqo_remote import RemoteAdapter

from orqo.deadlines import make_session
from orqo.outbound import Http
from orqo.stages import SendRequest
from orqo.testing.platform import FakePlatform
from orqo.testing.signers import hmac_headers
from orqo.testing.signers import verify_standard_webhooks
from tests.test_remote_roundtrip import serve_adapter  # noqa: F401 - the fixture
from tests.test_roundtrip import Agent
from tests.test_roundtrip import options

SIGNING_SECRET = "rt-s3cret-ÄÖ-custom"
REPLY_SECRET = "whsec_" + base64.b64encode(b"round-trip-reply-key-0123456789ab").decode()
CREDENTIALS = {"signing_secret": SIGNING_SECRET, "reply_secret": REPLY_SECRET}
REPLY_PATH = "/orqo/outbound"


@pytest.fixture
def receiver():
    """The custom App's reply URL: a real HTTP server on loopback."""
    with FakePlatform() as platform:
        yield platform


def create_remote_app(server, adapter_server, receiver) -> dict:
    app = server.cli_json(
        "apps", "create", "--name", "custom (remote)", "--adapter", "remote",
        "--config", f"url={adapter_server.url}",
        "--config", "adapter_config=" + json.dumps({"reply_url": receiver.url + REPLY_PATH}),
        *options("--credential", CREDENTIALS))
    assert app["config"]["capabilities"] == ["receive", "send"]
    assert app["config"]["credential_map"] == {"signing_secret": "signing_secret",
                                               "reply_secret": "reply_secret"}
    return app


def inbound(number: int, text: str, reply_to: str | None = None) -> tuple[bytes, dict]:
    document = {"id": f"m{number}", "sender": "ada", "text": text}
    if reply_to:
        document["reply_to"] = reply_to
    body = json.dumps(document, ensure_ascii=False).encode()
    return body, {**hmac_headers(SIGNING_SECRET, body), "Content-Type": "application/json"}


def deliver(server, app, number, text, reply_to=None) -> dict:
    body, headers = inbound(number, text, reply_to)
    response = requests.post(server.url + app["webhook_path"], data=body, headers=headers,
                             timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_worker_sends_through_adapter_serve_and_the_answer_finds_its_waitbox(
        make_server, serve_adapter, receiver):  # noqa: F811 - the imported fixture
    receiver.always(REPLY_PATH, 200, json={"id": "rcv-9"})
    adapter_server = serve_adapter("custom")
    server = make_server(workers=2)
    app = create_remote_app(server, adapter_server, receiver)
    contact = server.cli_json("contacts", "create", "--name", "Ada", "--channel",
                              f"{app['id']}=ada")
    agent = Agent(server, server.cli_json("tokens", "create", "--name", "runtime",
                                          "--scope", "agent")["token"])

    # Ada's message reaches Doorkeeper; the agent claims it and replies, awaiting the answer,
    # while an older question of hers is still open.
    deliver(server, app, 1, "Können wir den Termin verschieben?")
    [claimed] = agent.call("POST", "/api/v1/doorkeeper/claims",
                           json={"claimant": "runtime", "limit": 10})["messages"]
    older = agent.call("POST", "/api/v1/waitboxes", 201, json={
        "app_id": app["id"], "contact_id": contact["id"], "expires_in": 600,
        "reference": "an older question"})
    reply = agent.call("POST", "/api/v1/messages", 202, json={
        "app_id": app["id"], "contact_id": contact["id"], "text": "Dienstag oder Mittwoch? 📅",
        "in_reply_to": claimed["message"]["id"],
        "await_reply": {"expires_in": 600, "reference": "which-day"}})

    # A real worker sends it: orqo's remote adapter → adapter-serve → the reply URL.
    server.cli("worker", "--once")
    [arrived] = receiver.requests_to(REPLY_PATH)
    assert arrived.headers["webhook-id"] == f"msg_{reply['id']}"
    payload = verify_standard_webhooks(REPLY_SECRET, arrived.headers, arrived.body)
    assert payload == {
        "type": "message.outbound", "app_id": app["id"], "message_id": reply["id"],
        "recipient": "ada", "chat_id": "ada", "text": "Dienstag oder Mittwoch? 📅",
        "in_reply_to": {"platform_message_id": "m1", "chat_id": "ada", "thread_id": None,
                        "extra": {}}}
    sent = agent.call("GET", f"/api/v1/messages/{reply['id']}")
    assert sent["status"] == "sent" and sent["attempts"] == 1
    assert sent["platform_message_id"] == "rcv-9"

    # Ada answers that message: the bound waitbox takes it, not the older one.
    deliver(server, app, 2, "Mittwoch", reply_to="rcv-9")
    bound = agent.call("GET", f"/api/v1/waitboxes/{reply['waitbox']['id']}")
    assert bound["status"] == "answered", bound
    assert bound["message"]["text"] == "Mittwoch" and bound["message"]["reply_to"] == "rcv-9"
    assert agent.call("GET", f"/api/v1/waitboxes/{older['id']}")["status"] == "waiting"

    for secret in CREDENTIALS.values():
        assert secret not in adapter_server.log() and secret not in server.log()


def send(config: dict, message_id: int, attempt=1) -> object:
    """The send stage as ``orqo worker`` calls it for a remote App with ``config``."""
    request = SendRequest(app_id="AppRemote1", adapter="remote", credentials=dict(CREDENTIALS),
                          config=config, message_id=message_id, recipient="ada",
                          text="Deploy is done ✅", attempt=attempt)
    return RemoteAdapter().send(request, Http(make_session(), seconds=15))


def test_each_answer_of_the_reply_url_gives_the_contracts_result(
        serve_adapter, receiver):  # noqa: F811 - the imported fixture
    adapter_server = serve_adapter("custom")
    _, config = RemoteAdapter.validate_settings(CREDENTIALS, {
        "url": adapter_server.url, "adapter_config": {"reply_url": receiver.url + REPLY_PATH}})

    # A rate limit, then the retry with the same webhook-id; the receiver names nothing, so
    # orqo's name stands.
    receiver.answer(REPLY_PATH, 429, headers={"Retry-After": "7"}, body="slow down")
    receiver.answer(REPLY_PATH, 204)
    limited = send(config, 43)
    assert (limited.status, limited.retry_after) == ("retry", 7)
    assert limited.reason == "the reply URL answered HTTP 429: slow down"
    again = send(config, 43, attempt=2)
    assert (again.status, again.platform_message_id, again.reply_key) == (
        "sent", "orqo-43", "orqo-43")
    assert [r.headers["webhook-id"] for r in receiver.requests_to(REPLY_PATH)] == [
        "msg_43", "msg_43"]

    # A permanent refusal keeps the receiver's reason.
    receiver.answer(REPLY_PATH, 400, json={"error": "unknown recipient ada"})
    refused = send(config, 44)
    assert refused.status == "failed"
    assert refused.reason == 'the reply URL answered HTTP 400: {"error": "unknown recipient ada"}'

    # The reply URL goes away: the adapter server answers a retry.
    receiver.stop()
    unreachable = send(config, 45)
    assert unreachable.status == "retry"
    assert unreachable.reason == "the platform could not be reached: ConnectionError"

    # The adapter server goes away: orqo's remote adapter makes it a retry itself.
    adapter_server.stop()
    down = send(config, 46)
    assert down.status == "retry" and "could not be reached in time" in down.reason
    for secret in CREDENTIALS.values():
        assert secret not in adapter_server.log()
