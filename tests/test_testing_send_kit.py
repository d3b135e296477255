"""The adapter authors' kit for the send stage: FakePlatform, the sending signers'
counterparts and SendConformance, exercised with a small JSON-API adapter defined here."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
from datetime import datetime
from datetime import timezone

import pytest
import requests
from marshmallow import Schema
from marshmallow import fields
from standardwebhooks.webhooks import Webhook

from orqo import hookimpl
from orqo.adapters import Adapter
from orqo.adapters import api_base_url
from orqo.adapters import hmac_secret
from orqo.adapters import load_json
from orqo.deadlines import make_session
from orqo.messages import Message
from orqo.outbound import Http
from orqo.stages import ParseResult
from orqo.stages import SendResult
from orqo.stages import Verdict
from orqo.testing.platform import Answer
from orqo.testing.platform import FakePlatform
from orqo.testing.platform import unreachable_url
from orqo.testing.sending import SendConformance
from orqo.testing.sending import SendKit
from orqo.testing.sending import load_adapter
from orqo.testing.signers import BadSignature
from orqo.testing.signers import bearer_token
from orqo.testing.signers import hmac_headers
from orqo.testing.signers import standard_webhooks_headers
from orqo.testing.signers import telegram_bot_token
from orqo.testing.signers import verify_hmac
from orqo.testing.signers import verify_standard_webhooks

TOKEN = "toy-api-token-0123456789"
SIGNING_SECRET = "toy-signing-secret-0123456789"
WHSEC = "whsec_" + base64.b64encode(b"k" * 32).decode()

# ---------------------------------------------------------------------------------------------
# A toy platform: JSON in, JSON out, the token as a Bearer header
# ---------------------------------------------------------------------------------------------


class ToyCredentials(Schema):
    api_token = fields.String(required=True)
    signing_secret = hmac_secret()


class ToyConfig(Schema):
    api_base_url = api_base_url("https://api.toychat.invalid")


def scrub(text: str, credentials: dict) -> str:
    """``text`` with every credential replaced (a platform may quote what it was sent)."""
    for value in credentials.values():
        if isinstance(value, str) and value:
            text = text.replace(value, "[redacted]")
    return text


class ToyAdapter(Adapter):
    """POST ``{base}/v1/messages`` ``{"to", "text", "reply_to"?}``; answers ``{"ok": true,
    "message": {"id"}}`` or ``{"ok": false, "error", "retry_after"?}``."""

    platform = "toychat"
    credentials_schema = ToyCredentials
    config_schema = ToyConfig
    send_interval = 0.5
    max_text_length = 2000

    def verify(self, request):
        given = request.header("X-Toy-Signature") or ""
        expected = "sha256=" + hmac.new(request.credentials["signing_secret"].encode(),
                                        request.body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(given.encode(), expected.encode()):
            return Verdict.accept()
        return Verdict.reject("bad signature")

    def parse(self, request):
        document = load_json(request.body)
        return ParseResult(messages=[Message(
            platform=self.platform, sender_id=document["from"], text=document["text"],
            chat_id=document["from"], platform_message_id=document["id"],
            dedupe_key=document["id"], sent_at=1.0, reply_to=document.get("reply_to"))])

    def send(self, request, http):
        body = {"to": request.chat_id or request.recipient, "text": request.text}
        if request.in_reply_to:
            body["reply_to"] = request.in_reply_to["platform_message_id"]
        reply = http.post(request.config["api_base_url"].rstrip("/") + "/v1/messages",
                          json_body=body,
                          headers={"Authorization": f"Bearer {request.credentials['api_token']}"})
        document = reply.json()
        said = scrub(reply.excerpt(), request.credentials)
        if reply.status_code == 429:
            wait = document.get("retry_after") if isinstance(document, dict) else None
            return SendResult.retry(said, after=wait if isinstance(wait, (int, float))
                                    else reply.retry_after())
        if reply.status_code >= 500 or not isinstance(document, dict):
            return SendResult.retry(said)
        if document.get("ok") is True:
            message = document.get("message")
            message_id = message.get("id") if isinstance(message, dict) else None
            if isinstance(message_id, str) and message_id:
                return SendResult.sent(message_id)
            return SendResult.retry(f"no message id in the answer: {said}")
        error = document.get("error")
        return SendResult.failed(scrub(error, request.credentials) if isinstance(error, str)
                                 and error else said)


class ToyPlugin:
    """Registers :class:`ToyAdapter`."""

    def __init__(self, adapter=ToyAdapter):
        self.adapter = adapter

    @hookimpl
    def register_adapters(self, register):
        register(self.adapter)


def toy_answer(message_id="m-2"):
    return Answer.of(200, json={"ok": True, "message": {"id": message_id}})


class TestToySendConformance(SendConformance):
    plugin = ToyPlugin()
    platform = "toychat"
    credentials = {"api_token": TOKEN, "signing_secret": SIGNING_SECRET}
    recipient = "ada"
    in_reply_to = {"platform_message_id": "m-1", "chat_id": "ada", "thread_id": None,
                   "extra": {}}

    def send_path(self):
        return "/v1/messages"

    def sent_answer(self):
        return toy_answer()

    def rate_limited_answer(self):
        return Answer.of(429, json={"ok": False, "error": "slow down", "retry_after": 7}), 7.0

    def permanent_failure_answer(self):
        return Answer.of(403, json={"ok": False, "error": "recipient_blocked"}), \
            "recipient_blocked"

    def transient_failure_answer(self):
        return Answer.of(503, json={"ok": False, "error": "maintenance"})

    def check_request(self, request):
        assert bearer_token(request.headers) == TOKEN
        assert request.json()["to"] == "ada"

    def check_reply_request(self, request, in_reply_to):
        assert request.json()["reply_to"] == in_reply_to["platform_message_id"]

    def answer_delivery(self, sent):
        body = json.dumps({"id": "m-3", "from": "ada", "text": "yes",
                           "reply_to": sent.platform_message_id}).encode()
        return body, hmac_headers(SIGNING_SECRET, body, header="X-Toy-Signature")


# ---------------------------------------------------------------------------------------------
# The suite fails adapters that break the contract
# ---------------------------------------------------------------------------------------------


class LeakyAdapter(ToyAdapter):
    """Quotes the platform's answer as it is, credentials and all."""

    def send(self, request, http):
        result = super().send(request, http)
        if result.status != "sent":
            reply = http.post(request.config["api_base_url"] + "/v1/messages", json_body={})
            result.reason = reply.excerpt()
        return result


class CrashingAdapter(ToyAdapter):
    """Trusts the answer's shape."""

    def send(self, request, http):
        reply = http.post(request.config["api_base_url"] + "/v1/messages", json_body={})
        return SendResult.sent(reply.json()["message"]["id"])


class ImpatientAdapter(ToyAdapter):
    """Ignores the platform's wait."""

    def send(self, request, http):
        result = super().send(request, http)
        result.retry_after = None
        return result


class CredulousAdapter(ToyAdapter):
    """Takes any 2xx for "sent"."""

    def send(self, request, http):
        reply = http.post(request.config["api_base_url"] + "/v1/messages", json_body={})
        if 200 <= reply.status_code < 300:
            return SendResult.sent(str(reply.json()))
        return SendResult.retry("not sent")


class PointerlessAdapter(ToyAdapter):
    """Sends a reply as if it were a new message."""

    def send(self, request, http):
        request.in_reply_to = None
        return super().send(request, http)


def suite_for(adapter_class):
    class Suite(TestToySendConformance):
        plugin = ToyPlugin(adapter_class)
    return Suite()


def kit_for(adapter_class, fake_platform):
    suite = suite_for(adapter_class)
    return suite, SendKit(suite, load_adapter(suite.plugin, "toychat"), fake_platform)


FAILED = (AssertionError, pytest.fail.Exception)


def test_the_suite_fails_an_adapter_that_quotes_credentials(fake_platform):
    suite, kit = kit_for(LeakyAdapter, fake_platform)
    with pytest.raises(FAILED, match="credential"):
        suite.test_send_conformance_answers_quoting_credentials_keep_them_out(kit)


def test_the_suite_fails_an_adapter_that_raises_on_an_odd_answer(fake_platform):
    suite, kit = kit_for(CrashingAdapter, fake_platform)
    with pytest.raises(FAILED, match="HTML 200: send raised"):
        suite.test_send_conformance_malformed_answers_are_retry_or_failed(kit)


def test_the_suite_fails_an_adapter_that_ignores_the_wait(fake_platform):
    suite, kit = kit_for(ImpatientAdapter, fake_platform)
    with pytest.raises(FAILED):
        suite.test_send_conformance_rate_limit_is_retried_after_the_platforms_wait(kit)


def test_the_suite_fails_an_adapter_that_takes_any_2xx_for_sent(fake_platform):
    suite, kit = kit_for(CredulousAdapter, fake_platform)
    with pytest.raises(FAILED, match="HTML 200"):
        suite.test_send_conformance_malformed_answers_are_retry_or_failed(kit)


def test_the_suite_fails_an_adapter_whose_reply_has_no_pointer(fake_platform):
    suite, kit = kit_for(PointerlessAdapter, fake_platform)
    with pytest.raises(FAILED, match="no reply pointer"):
        suite.test_send_conformance_reply_reaches_the_platform(kit)


def test_answers_without_json_are_quoted_as_text(fake_platform):
    class PlainSuite(TestToySendConformance):
        def rate_limited_answer(self):
            return Answer.of(429, body="slow down", headers={"Retry-After": "7"}), 7.0

        def sent_answer(self):
            return Answer.of(200, body="OK")

    suite = PlainSuite()
    kit = SendKit(suite, load_adapter(suite.plugin, "toychat"), fake_platform)
    assert "HTML 200" in suite.malformed_answers()
    suite.test_send_conformance_answers_quoting_credentials_keep_them_out(kit)
    suite.test_send_conformance_rate_limit_is_retried_after_the_platforms_wait(kit)


def test_non_secret_credentials_are_left_out_of_the_checks():
    class Suite(TestToySendConformance):
        non_secret_credentials = ("signing_secret",)

    assert Suite().secrets() == {"api_token": TOKEN}


def test_load_adapter_names_what_the_plugin_registers():
    with pytest.raises(AssertionError, match="registers no 'slack' adapter"):
        load_adapter(ToyPlugin(), "slack")


# ---------------------------------------------------------------------------------------------
# FakePlatform
# ---------------------------------------------------------------------------------------------


def post(url, **options):
    with requests.Session() as session:
        session.trust_env = False
        return session.post(url, timeout=10, **options)


def test_queued_answers_are_given_in_order_then_the_standing_answer(fake_platform):
    path = "/chat.postMessage"
    fake_platform.answer(path, 429, json={"ok": False}, headers={"Retry-After": "3"})
    fake_platform.answer(path, Answer.of(200, json={"ok": True, "ts": "1.2"}))
    fake_platform.always(path, 200, body="standing")
    assert fake_platform.pending(path) == 2
    first, second, third, fourth = (post(fake_platform.url + path) for _ in range(4))
    assert (first.status_code, first.headers["Retry-After"], first.json()) == (429, "3",
                                                                              {"ok": False})
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert (second.status_code, second.json()) == (200, {"ok": True, "ts": "1.2"})
    assert third.text == fourth.text == "standing"
    assert fake_platform.pending(path) == 0


def test_an_unscripted_path_is_a_404_naming_it(fake_platform):
    fake_platform.answer("/a", 200)
    answer = post(fake_platform.url + "/b?x=1")
    assert answer.status_code == 404
    assert "POST /b" in answer.json()["error"]
    assert fake_platform.pending("/a") == 1


def test_every_request_is_recorded_as_it_arrived(fake_platform):
    fake_platform.answer("/v1/messages", 200, json={"ok": True})
    post(fake_platform.url + "/v1/messages?draft=1",
         data='{"text": "Grüße"}'.encode(),
         headers={"Authorization": f"Bearer {TOKEN}", "X-Trace": "t-1"})
    post(fake_platform.url + "/plain", data=b"\xff not json")
    first, second = fake_platform.requests
    assert (first.method, first.path, first.query) == ("POST", "/v1/messages", "draft=1")
    assert first.headers["authorization"] == f"Bearer {TOKEN}"
    assert ("X-Trace", "t-1") in first.header_pairs
    assert first.body == '{"text": "Grüße"}'.encode()
    assert first.json() == {"text": "Grüße"}
    assert second.json() is None and second.text().endswith("not json")
    assert fake_platform.requests_to("/plain") == [second]


def test_a_chunked_body_is_read_whole(fake_platform):
    post(fake_platform.url + "/upload", data=iter([b'{"a": ', b'"chunked"}']))
    (request,) = fake_platform.requests
    assert request.headers["Transfer-Encoding"] == "chunked"
    assert request.json() == {"a": "chunked"}


def test_the_platform_answers_orqos_http(fake_platform):
    fake_platform.answer("/send", 200, json={"ok": True}, headers={"Retry-After": "2"})
    with make_session(trust_env=False) as session:
        reply = Http(session, seconds=5).post(fake_platform.url + "/send", json_body={"t": "✓"})
    assert (reply.status_code, reply.json(), reply.retry_after()) == (200, {"ok": True}, 2.0)
    assert fake_platform.requests[0].json() == {"t": "✓"}


def test_wait_for_requests_sees_a_sender_in_another_thread(fake_platform):
    fake_platform.always("/late", 204)
    sender = threading.Thread(target=lambda: [post(fake_platform.url + "/late")
                                              for _ in range(3)])
    sender.start()
    arrived = fake_platform.wait_for_requests(3, path="/late", timeout=30)
    sender.join()
    assert len(arrived) == 3


def test_another_process_reaches_the_platform(fake_platform):
    fake_platform.answer("/from-a-process", 200, json={"ok": True})
    sender = (f"import requests; s = requests.Session(); s.trust_env = False; "
              f"print(s.post({fake_platform.url + '/from-a-process'!r}, json={{'a': 1}}, "
              f"timeout=10).text)")
    ran = subprocess.run([sys.executable, "-c", sender], capture_output=True, text=True,
                         timeout=60)
    assert json.loads(ran.stdout) == {"ok": True}, ran.stderr
    assert fake_platform.wait_for_requests(1, path="/from-a-process")[0].json() == {"a": 1}


def test_wait_for_requests_says_how_many_came():
    with FakePlatform() as platform:
        with pytest.raises(AssertionError, match="0 of 1 requests to /never"):
            platform.wait_for_requests(1, path="/never", timeout=0.05)


def test_concurrent_senders_each_get_one_queued_answer(fake_platform):
    for number in range(20):
        fake_platform.answer("/send", 200, json={"n": number})
    got, lock = [], threading.Lock()

    def send():
        answer = post(fake_platform.url + "/send").json()["n"]
        with lock:
            got.append(answer)

    senders = [threading.Thread(target=send) for _ in range(20)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert sorted(got) == list(range(20))
    assert len(fake_platform.requests) == 20


def test_reset_forgets_answers_and_requests(fake_platform):
    fake_platform.answer("/a", 201).always("/a", 202)
    post(fake_platform.url + "/a")
    fake_platform.reset()
    assert fake_platform.requests == [] and fake_platform.pending("/a") == 0
    assert post(fake_platform.url + "/a").status_code == 404


def test_a_stopped_platform_is_unreachable_and_so_is_unreachable_url():
    platform = FakePlatform().start()
    url = platform.url
    platform.stop()
    for target in (url, unreachable_url()):
        with pytest.raises(requests.ConnectionError):
            post(target + "/send")
    with pytest.raises(RuntimeError, match="not started"):
        FakePlatform().url


def test_an_answer_is_json_or_body_not_both():
    with pytest.raises(ValueError):
        Answer.of(200, json={}, body=b"x")
    with pytest.raises(ValueError):
        FakePlatform().answer("/a", Answer.of(200), json={})
    assert Answer.of(200, json={"a": 1}, headers={"content-type": "text/json"}).headers == {
        "content-type": "text/json"}


# ---------------------------------------------------------------------------------------------
# The sending side's signers
# ---------------------------------------------------------------------------------------------


def test_verify_standard_webhooks_accepts_what_the_library_signs():
    body = json.dumps({"text": "Grüße"}, ensure_ascii=False).encode()
    now = datetime.now(timezone.utc)
    headers = {"Webhook-Id": "push_1", "Webhook-Timestamp": str(int(now.timestamp())),
               "Webhook-Signature": Webhook(WHSEC).sign("push_1", now, body.decode())}
    assert verify_standard_webhooks(WHSEC, headers, body) == {"text": "Grüße"}
    assert verify_standard_webhooks(WHSEC, list(headers.items()), body) == {"text": "Grüße"}


def test_verify_standard_webhooks_accepts_a_rotating_sender():
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    body = b'{"a": 1}'
    headers = standard_webhooks_headers(other, body, "msg_1", extra_secrets=[WHSEC])
    assert verify_standard_webhooks(WHSEC, headers, body) == {"a": 1}


@pytest.mark.parametrize("case", ["wrong secret", "flipped body", "stale", "missing header",
                                  "repeated header", "odd signature", "not JSON",
                                  "not UTF-8"])
def test_verify_standard_webhooks_refuses(case):
    body = b'{"a": 1}'
    other = "whsec_" + base64.b64encode(b"o" * 32).decode()
    secret, timestamp = (other if case == "wrong secret" else WHSEC), time.time()
    if case == "stale":
        timestamp -= 600
    if case == "not JSON":
        body = b"<html>"
    if case == "not UTF-8":
        body = b'{"a": "\xff"}'
    headers = list(standard_webhooks_headers(secret, body, "msg_1", timestamp).items())
    if case == "flipped body":
        body = b'{"a": 2}'
    if case == "missing header":
        headers = headers[:2]
    if case == "repeated header":
        headers.append(headers[2])
    if case == "odd signature":
        headers[2] = ("webhook-signature", "v1")
    with pytest.raises(BadSignature) as refused:
        verify_standard_webhooks(WHSEC, headers, body)
    assert WHSEC not in str(refused.value)


def test_verify_hmac_is_the_counterpart_of_hmac_headers():
    body = b'{"a": 1}'
    assert verify_hmac(SIGNING_SECRET, hmac_headers(SIGNING_SECRET, body), body) == {"a": 1}
    options = {"header": "X-Sig", "algorithm": "hmac-sha512", "encoding": "base64",
               "prefix": ""}
    assert verify_hmac(SIGNING_SECRET, hmac_headers(SIGNING_SECRET, body, **options), body,
                       **options) == {"a": 1}
    for headers, sent in ((hmac_headers("another-secret-0123", body), body),
                          (hmac_headers(SIGNING_SECRET, body), b'{"a": 2}'),
                          ({"X-Signature-256": "sha256=zz"}, body),
                          ({"X-Signature-256": "md5=00"}, body), ({}, body)):
        with pytest.raises(BadSignature):
            verify_hmac(SIGNING_SECRET, headers, sent)


def test_bearer_token_and_telegram_bot_token():
    assert bearer_token({"authorization": "Bearer xoxb-1"}) == "xoxb-1"
    assert bearer_token({"Authorization": "Basic abc"}) is None
    assert bearer_token({"Authorization": "Bearer "}) is None
    assert bearer_token([("Authorization", "Bearer a"), ("Authorization", "Bearer b")]) is None
    assert bearer_token({}) is None
    assert telegram_bot_token("/bot123:ABC-def/sendMessage") == "123:ABC-def"
    assert telegram_bot_token("/api/bot123:ABC/sendMessage") == "123:ABC"
    assert telegram_bot_token("/sendMessage") is None
