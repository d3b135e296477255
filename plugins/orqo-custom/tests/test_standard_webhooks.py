"""The custom adapter's Standard Webhooks mode, checked against the public reference library."""
import base64
import json
import time

import orqo_custom
import pytest
from standardwebhooks.webhooks import Webhook

from orqo.errors import ApiError
from orqo.testing import Harness
from orqo.testing.conformance import AdapterConformance
from orqo.testing.signers import standard_webhooks_headers

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OTHER = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
CONFIG = {"mode": "standard-webhooks"}


def event(text="Zahlung eingegangen 💶", **fields) -> bytes:
    return json.dumps({"type": "message.created", "sender": "acct_77", "text": text, **fields},
                      ensure_ascii=False).encode()


@pytest.fixture
def sw(make_app):
    harness = Harness(make_app(plugins=[orqo_custom]))
    harness.app_id = harness.add_app("custom", {"signing_secret": SECRET}, CONFIG)
    harness.add_contact({harness.app_id: "acct_77"})
    return harness


def test_our_signer_agrees_with_the_reference_library():
    body = event()
    headers = standard_webhooks_headers(SECRET, body, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
    assert Webhook(SECRET).verify(body, headers) == json.loads(body)


def test_a_delivery_signed_by_the_reference_library_is_routed(sw):
    body = event()
    msg_id, now = "msg_p5jXN8AQM9LWM0D4loKWxJek", int(time.time())
    from datetime import datetime, timezone

    signature = Webhook(SECRET).sign(msg_id, datetime.fromtimestamp(now, tz=timezone.utc),
                                     body.decode())
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now), "webhook-signature": signature}
    response = sw.deliver(sw.app_id, body, headers)
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    assert sw.ledger()[0]["messages"][0]["dedupe_key"] == msg_id


def test_any_one_of_several_signatures_passes(sw):
    body = event()
    headers = standard_webhooks_headers(OTHER, body, "msg_rotating", extra_secrets=[SECRET])
    assert len(headers["webhook-signature"].split()) == 2
    assert sw.deliver(sw.app_id, body, headers).status_code == 200


def test_retries_with_the_same_webhook_id_are_duplicates(sw):
    body = event()
    first = sw.deliver(sw.app_id, body, standard_webhooks_headers(SECRET, body, "msg_same"))
    later = sw.deliver(sw.app_id, body, standard_webhooks_headers(SECRET, body, "msg_same",
                                                                   time.time() + 30))
    assert first.json["messages"][0]["outcome"] == "routed"
    assert later.json["messages"][0]["outcome"] == "duplicate"


@pytest.mark.parametrize("change,reason", [
    (lambda h: {**h, "webhook-timestamp": str(int(time.time()) - 301)}, "too old"),
    (lambda h: {**h, "webhook-timestamp": str(int(time.time()) + 301)}, "future"),
    (lambda h: {**h, "webhook-timestamp": "soon"}, "Unix seconds"),
    (lambda h: {**h, "webhook-id": "has.dot"}, "not a valid id"),
    (lambda h: {**h, "webhook-signature": "v1a,abc v2,xyz"}, "no webhook-signature"),
    (lambda h: {**h, "webhook-signature": "garbage-without-comma"}, "no webhook-signature"),
    (lambda h: {k: v for k, v in h.items() if k != "webhook-id"}, "missing webhook-id"),
])
def test_bad_headers_are_rejected_with_a_reason(sw, change, reason):
    body = event()
    headers = change(standard_webhooks_headers(SECRET, body, "msg_x"))
    response = sw.deliver(sw.app_id, body, headers)
    assert response.status_code == 401
    assert reason in response.json["error"]["message"]


@pytest.mark.parametrize("timestamp", [
    "\u00b2",  # "²": str.isdigit() says yes, int() says no
    "1" * 400,
    "1" * 5000,  # past int()'s 4,300-digit limit
    "\uff11\uff17\uff10\uff10",  # full-width digits, which int() would take
    "1" * 16,
    "+1700000000",
    " 1700000000",
    "1_700_000_000",
], ids=["superscript-two", "400-digits", "5000-digits", "full-width", "16-digits", "plus",
        "space", "underscores"])
def test_a_timestamp_that_is_not_ascii_unix_seconds_is_a_401_not_a_503(sw, timestamp, caplog):
    """Issue 15, finding 5: these answered 503 adapter_error with an ERROR log line."""
    body = event()
    headers = {**standard_webhooks_headers(SECRET, body, "msg_odd_time"),
               "webhook-timestamp": timestamp}
    response = sw.deliver(sw.app_id, body, headers)
    assert response.status_code == 401, response.json
    assert response.json["error"]["code"] == "rejected_signature"
    assert "webhook-timestamp is not Unix seconds" in response.json["error"]["message"]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


def test_non_utf8_body_is_verified_on_bytes_and_then_refused_as_malformed(sw):
    body = b'{"sender": "acct_77", "text": "\xff\xfe"}'
    response = sw.deliver(sw.app_id, body, standard_webhooks_headers(SECRET, body, "msg_bytes"))
    assert response.status_code == 400


def test_a_secret_that_is_not_whsec_is_refused_when_the_app_is_saved(make_app):
    harness = Harness(make_app(plugins=[orqo_custom]))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("custom", {"signing_secret": "plain-secret-long-enough-for-hmac"}, CONFIG)
    assert "whsec_" in str(excinfo.value.details)
    with pytest.raises(ApiError):
        harness.add_app("custom", {"signing_secret": "whsec_" + base64.b64encode(b"short").decode()},
                        CONFIG)


class TestStandardWebhooksConformance(AdapterConformance):
    plugin = orqo_custom
    platform = "custom"
    credentials = {"signing_secret": SECRET}
    other_credentials = {"signing_secret": OTHER}
    config = CONFIG
    signature_headers = ("webhook-signature", "webhook-timestamp", "webhook-id")
    timestamp_window = 300
    sender_id = "acct_77"

    def delivery(self, sender_id, message_id, text):
        return json.dumps({"id": message_id, "sender": sender_id, "text": text},
                          ensure_ascii=False).encode()

    def sign(self, credentials, body, timestamp):
        msg_id = "msg_" + json.loads(body)["id"]
        return standard_webhooks_headers(credentials["signing_secret"], body, msg_id, timestamp)
