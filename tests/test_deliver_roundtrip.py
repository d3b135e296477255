"""Sending through a remote adapter with real processes: orqo's remote adapter → a real
``orqo adapter-serve custom`` process → a real receiving HTTP server standing in for the
custom App's reply URL, all on 127.0.0.1.

orqo (gunicorn) saves the remote App (keeping the manifest's capabilities); the send stage is
then called as ``orqo worker`` calls it, with the App's stored settings and an
:class:`orqo.outbound.Http`. The receiver checks the Standard Webhooks signature with the
public library, and its answer to the sent message comes back through orqo's webhook with the
id the send returned as its ``reply_to``.
"""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
import requests
from orqo_remote import RemoteAdapter
from standardwebhooks.webhooks import Webhook

from orqo.deadlines import make_session
from orqo.outbound import Http
from orqo.schemas import ParseResultSchema
from orqo.schemas import StageRequestSchema
from orqo.stages import SendRequest
from orqo.testing.conformance import make_stage_request
from orqo.testing.signers import hmac_headers
from tests.test_remote_roundtrip import serve_adapter  # noqa: F401 - the fixture

SIGNING_SECRET = "rt-s3cret-ÄÖ-custom"
REPLY_SECRET = "whsec_" + base64.b64encode(b"round-trip-reply-key-0123456789ab").decode()
CREDENTIALS = {"signing_secret": SIGNING_SECRET, "reply_secret": REPLY_SECRET}


class Receiver:
    """The custom App's reply URL: a real HTTP server on 127.0.0.1 that records each POST and
    answers the next scripted answer, else 200 ``{"id": "rcv-<n>"}``."""

    def __init__(self):
        self.received = []  # (path, headers, body)
        self.answers = []  # (status, headers, body)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append((self.path, dict(self.headers.items()), body))
                status, headers, answer = (outer.answers.pop(0) if outer.answers else (
                    200, {"Content-Type": "application/json"},
                    json.dumps({"id": f"rcv-{len(outer.received)}"}).encode()))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/orqo/outbound"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def send(app: dict, message_id: int, attempt=1, **fields):
    """The send stage as ``orqo worker`` calls it for the App's stored settings."""
    request = SendRequest(app_id=app["id"], adapter="remote", credentials=dict(CREDENTIALS),
                          config=app["config"], message_id=message_id, recipient="ada",
                          text=fields.pop("text", "Deploy is done ✅ — shall I roll back?"),
                          attempt=attempt, **fields)
    return RemoteAdapter().send(request, Http(make_session(), seconds=15))


def test_an_agents_message_reaches_the_reply_url_and_its_answer_comes_back(
        make_server, serve_adapter, receiver):  # noqa: F811 - the imported fixture
    adapter_server = serve_adapter("custom")
    server = make_server()
    app = server.cli_json(
        "apps", "create", "--name", "custom (remote)", "--adapter", "remote",
        "--config", f"url={adapter_server.url}",
        "--config", "adapter_config=" + json.dumps({"reply_url": receiver.url}),
        *[arg for key, value in CREDENTIALS.items() for arg in ("--credential", f"{key}={value}")])
    assert app["config"]["capabilities"] == ["receive", "send"]
    assert app["config"]["credential_map"] == {"signing_secret": "signing_secret",
                                               "reply_secret": "reply_secret"}
    assert RemoteAdapter.can_send(app["config"])
    server.cli_json("contacts", "create", "--name", "Ada", "--channel", f"{app['id']}=ada")

    # Sent in reply to a message Ada sent, in its thread.
    in_reply_to = {"platform_message_id": "m-17", "chat_id": "ada", "thread_id": "ops-42",
                   "extra": {}}
    result = send(app, 42, in_reply_to=in_reply_to)
    assert result.status == "sent", result.reason
    assert (result.platform_message_id, result.reply_key, result.chat_id, result.thread_id) == (
        "rcv-1", "rcv-1", "ada", "ops-42")
    [(path, headers, body)] = receiver.received
    assert path == "/orqo/outbound"
    assert headers["webhook-id"] == "msg_42"
    assert Webhook(REPLY_SECRET).verify(body, headers) == {
        "type": "message.outbound", "app_id": app["id"], "message_id": 42, "recipient": "ada",
        "chat_id": None, "text": "Deploy is done ✅ — shall I roll back?",
        "in_reply_to": in_reply_to}

    # Ada answers that message: her reply points at the id the send returned.
    answer = json.dumps({"id": "m-18", "sender": "ada", "text": "yes, roll back",
                         "reply_to": result.reply_key}).encode()
    stage = make_stage_request(app["id"], "custom", answer, hmac_headers(SIGNING_SECRET, answer),
                               CREDENTIALS, {})
    parsed = requests.post(f"{adapter_server.url}/parse-inbound",
                           json=StageRequestSchema().dump(stage), timeout=10)
    [message] = ParseResultSchema().load(parsed.json()).messages
    assert message.reply_to == result.reply_key
    routed = requests.post(server.url + app["webhook_path"], data=answer,
                           headers=hmac_headers(SIGNING_SECRET, answer), timeout=10)
    assert routed.status_code == 200
    assert routed.json()["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]

    # A rate limit, then the retry with the same webhook-id; this time the receiver names
    # nothing, so orqo's name stands.
    receiver.answers = [(429, {"Retry-After": "7"}, b"slow down"), (204, {}, b"")]
    limited = send(app, 43)
    assert (limited.status, limited.retry_after) == ("retry", 7)
    assert limited.reason == "the reply URL answered HTTP 429: slow down"
    again = send(app, 43, attempt=2)
    assert (again.status, again.platform_message_id) == ("sent", "orqo-43")
    assert [h["webhook-id"] for _, h, _ in receiver.received[1:]] == ["msg_43", "msg_43"]

    # A permanent refusal keeps the receiver's reason.
    receiver.answers = [(400, {"Content-Type": "application/json"},
                         b'{"error": "unknown recipient ada"}')]
    refused = send(app, 44)
    assert refused.status == "failed"
    assert refused.reason == 'the reply URL answered HTTP 400: {"error": "unknown recipient ada"}'

    # The reply URL goes away: the adapter server answers a retry.
    receiver.stop()
    unreachable = send(app, 45)
    assert (unreachable.status, unreachable.reason) == ("retry",
                                                        "the platform could not be reached")

    # The adapter server goes away: orqo's remote adapter makes it a retry itself.
    adapter_server.stop()
    down = send(app, 46)
    assert down.status == "retry" and "could not be reached in time" in down.reason

    for secret in CREDENTIALS.values():
        assert secret not in adapter_server.log() and secret not in server.log()
