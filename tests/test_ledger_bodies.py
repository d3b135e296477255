"""What a delivery carried, as the ledger keeps it (orqo/carried.py): redacted headers, the body
cut to LEDGER_BODY_BYTES, its full size; shown by the view of one delivery (API, CLI, console),
never by listings."""
import json
import re

import pytest

from orqo.carried import body_truncated
from orqo.carried import carried
from orqo.carried import cut_body
from orqo.carried import redact_headers
from orqo.config import InvalidSetting
from orqo.services.tokens import issue_token
from orqo.testing import Harness
from tests.conftest import TOKEN
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery

SECRET = "s3cr3t-value"


# --- the functions ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "Authorization", "Proxy-Authorization", "Cookie", "X-Telegram-Bot-Api-Secret-Token",
    "X-Api-Key", "x-auth-token", "X-MY-PASSWORD", "X-Session-Cookie", "X-Fake-Token"])
def test_secret_headers_are_redacted(name):
    assert redact_headers([[name, SECRET]]) == {name: "[redacted]"}


@pytest.mark.parametrize("name", ["X-Slack-Signature", "X-Hub-Signature-256",
                                  "webhook-signature", "Content-Type", "User-Agent",
                                  "X-Slack-Request-Timestamp", "webhook-id"])
def test_signatures_and_ordinary_headers_stay_visible(name):
    assert redact_headers([[name, "v1=abc"]]) == {name: "v1=abc"}


def test_repeated_headers_are_joined_and_nul_is_replaced():
    assert redact_headers([["X-A", "1"], ["X-A", "2\x00"], ["Cookie", "a"], ["Cookie", "b"]]) \
        == {"X-A": "1, 2\ufffd", "Cookie": "[redacted], [redacted]"}


def test_the_cut_is_on_bytes_and_a_cut_character_never_raises():
    body = "é".encode() * 3  # 6 bytes, two per character
    assert cut_body(body, 6) == "ééé"
    assert cut_body(body, 5) == "éé\ufffd"
    assert cut_body(b"\xff\xfeok\x00", 100) == "\ufffd\ufffdok\ufffd"


def test_body_truncated_is_exact_for_utf8_and_never_misses_a_cut():
    whole = "héllo"
    assert not body_truncated(whole, len(whole.encode()))
    assert body_truncated("hé", len(whole.encode()))
    assert body_truncated(cut_body(b"\xff" * 10, 4), 10)  # bytes that are not UTF-8, cut
    assert not body_truncated(None, 10) and not body_truncated("", 0)


def test_nothing_but_the_size_is_kept_at_zero():
    assert carried([["Content-Type", "x"]], b"abc", 0) == \
        {"headers": None, "body": None, "body_bytes": 3}


@pytest.mark.parametrize("value", [-1, "big", 1.5, None])
def test_the_setting_is_checked(make_app, value):
    with pytest.raises(InvalidSetting, match="LEDGER_BODY_BYTES"):
        make_app(LEDGER_BODY_BYTES=value)


# --- the webhook path keeps them, the views show them ----------------------------------------

def harness_with(make_app, **config):
    harness = Harness(make_app(plugins=[fake_adapter], **config))
    harness.app_id = harness.add_app("fake", {"token": TOKEN})
    harness.ada = harness.add_contact({harness.app_id: "ada"})
    with harness.app.app_context():
        harness.auth = {"Authorization": f"Bearer {issue_token('ops', ['admin'])[1]}"}
    return harness


HEADERS = {"X-Fake-Token": TOKEN, "Authorization": f"Bearer {SECRET}", "Proxy-Authorization": f"Basic {SECRET}",
           "X-Hub-Signature-256": "sha256=abc", "Content-Type": "application/json"}


def send(harness, body: bytes, headers=None):
    """Deliver ``body``; the delivery as the API shows it (a refusal's answer has no id: the
    newest delivery is the one)."""
    harness.deliver(harness.app_id, body, headers or HEADERS)
    newest = harness.ledger()[0]["id"]
    return harness.client.get(f"/api/v1/deliveries/{newest}", headers=harness.auth).json


def test_the_api_shows_what_one_delivery_carried_and_lists_leave_it_out(make_app):
    harness = harness_with(make_app)
    body = delivery({"sender": "ada", "id": "m1", "text": "héllo"})
    shown = send(harness, body)
    assert shown["body"] == body.decode() and shown["body_bytes"] == len(body)
    assert shown["body_truncated"] is False
    headers = shown["headers"]
    assert headers["Authorization"] == headers["Proxy-Authorization"] == headers["X-Fake-Token"] \
        == "[redacted]"
    assert headers["X-Hub-Signature-256"] == "sha256=abc"
    assert headers["Content-Type"] == "application/json"
    assert SECRET not in json.dumps(shown) and TOKEN not in json.dumps(shown)
    listed = harness.client.get("/api/v1/deliveries", headers=harness.auth).json["items"]
    assert listed and not {"headers", "body", "body_bytes", "body_truncated"} & set(listed[0])


def test_a_long_body_is_cut_to_the_setting(make_app):
    harness = harness_with(make_app, LEDGER_BODY_BYTES=40)
    body = delivery({"sender": "ada", "id": "m1", "text": "é" * 100})
    shown = send(harness, body)
    assert len(shown["body"].encode()) <= 40 + 2 and shown["body_bytes"] == len(body)
    assert body.decode().startswith(shown["body"].rstrip("\ufffd"))
    assert shown["body_truncated"] is True


def test_zero_keeps_no_body_and_no_headers(make_app):
    harness = harness_with(make_app, LEDGER_BODY_BYTES=0)
    body = delivery({"sender": "ada", "id": "m1"})
    shown = send(harness, body)
    assert shown["headers"] is None and shown["body"] is None
    assert shown["body_bytes"] == len(body) and shown["body_truncated"] is False


def test_refused_and_sampled_deliveries_keep_theirs(make_app):
    harness = harness_with(make_app)
    malformed = send(harness, b"{not json")
    assert malformed["outcome"] == "malformed" and malformed["body"] == "{not json"
    wrong = harness.deliver(harness.app_id, b'{"messages": []}', {"X-Fake-Token": "wrong"})
    assert wrong.status_code == 401
    listed = harness.client.get("/api/v1/deliveries?outcome=rejected_signature",
                                headers=harness.auth).json["items"]
    sampled = harness.client.get(f"/api/v1/deliveries/{listed[0]['id']}",
                                 headers=harness.auth).json
    assert sampled["body"] == '{"messages": []}'
    assert sampled["headers"]["X-Fake-Token"] == "[redacted]"


def test_a_body_that_is_not_utf8_or_holds_nul_is_stored(make_app):
    harness = harness_with(make_app)
    shown = send(harness, b"\xff\x00\xe2\x82")
    assert shown["outcome"] == "malformed" and shown["body"] == "\ufffd\ufffd\ufffd"
    assert shown["body_bytes"] == 4


def test_a_replay_carries_no_body(make_app):
    harness = harness_with(make_app)
    shown = send(harness, delivery({"sender": "newcomer", "id": "n1"}))
    harness.add_contact({harness.app_id: "newcomer"}, name="N")
    replayed = harness.client.post(f"/api/v1/messages/{shown['messages'][0]['id']}/replay",
                                   headers=harness.auth).json
    again = harness.client.get(f"/api/v1/deliveries/{replayed['delivery_id']}",
                               headers=harness.auth).json
    assert again["headers"] is None and again["body"] is None and again["body_bytes"] is None


def test_the_openapi_document_describes_the_detail_not_the_list(make_app):
    harness = harness_with(make_app)
    document = harness.client.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    assert {"headers", "body", "body_bytes", "body_truncated"} <= set(
        schemas["DeliveryDetailOut"]["properties"])
    assert "body" not in schemas["DeliveryOut"]["properties"]


# --- the console -----------------------------------------------------------------------------

def signed_in(harness):
    from tests.test_console import issue
    from tests.test_console import sign_in

    client = harness.app.test_client()
    assert sign_in(client, issue(harness.app)[1]).status_code == 302
    return client


def test_the_console_escapes_a_body_and_pretty_prints_json(make_app):
    harness = harness_with(make_app)
    attack = b'{"messages": [{"sender": "ada", "id": "x", "text": "<script>alert(1)</script>"}]}'
    shown = send(harness, attack)
    client = signed_in(harness)
    page = client.get(f"/console/deliveries/{shown['id']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '\n  &#34;messages&#34;: [' in page  # indented: the body was JSON
    assert "X-Hub-Signature-256" in page and SECRET not in page and TOKEN not in page
    assert "body-truncated" not in page
    headers = {"X-Fake-Token": TOKEN, "X-Evil": "<img src=x onerror=alert(1)>"}
    raw = send(harness, b"<b>not json</b>", headers)
    page = client.get(f"/console/deliveries/{raw['id']}").get_data(as_text=True)
    assert "<b>not json</b>" not in page and "&lt;b&gt;not json&lt;/b&gt;" in page
    assert "<img src=x" not in page


def test_the_console_says_when_a_body_is_cut_or_not_kept(make_app):
    harness = harness_with(make_app, LEDGER_BODY_BYTES=10)
    shown = send(harness, delivery({"sender": "ada", "id": "m1"}))
    client = signed_in(harness)
    page = client.get(f"/console/deliveries/{shown['id']}").get_data(as_text=True)
    assert 'id="body-truncated"' in page
    harness.app.extensions["orqo.pipeline"].ledger_body_bytes = 0
    shown = send(harness, delivery({"sender": "ada", "id": "m2"}))
    page = client.get(f"/console/deliveries/{shown['id']}").get_data(as_text=True)
    assert re.search(r"Not kept: received while LEDGER_BODY_BYTES was 0", page)
    listing = client.get("/console/deliveries").get_data(as_text=True)
    assert f"/console/deliveries/{shown['id']}" in listing and '"sender"' not in listing


def test_the_console_shows_json_nested_too_deeply_to_indent_as_kept(make_app):
    harness = harness_with(make_app)
    deep = b"[" * 3000 + b"]" * 3000
    shown = send(harness, deep)
    response = signed_in(harness).get(f"/console/deliveries/{shown['id']}")
    assert response.status_code == 200 and deep.decode() in response.get_data(as_text=True)
