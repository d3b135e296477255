"""The custom adapter: ORQO's generic "Receive Config" sender."""
import base64
import hashlib
import hmac
import json

import orqo_custom
import pytest
from orqo_custom import sign

from orqo import create_app
from orqo.testing import Harness

SECRET = "whsec-like-secret"


@pytest.fixture
def custom(make_app):
    harness = Harness(make_app(plugins=[orqo_custom]))
    harness.app_id = harness.add_app("custom", {"signing_secret": SECRET})
    harness.add_contact({harness.app_id: "user-1"})
    return harness


def body_of(**fields) -> bytes:
    return json.dumps({"id": "evt-1", "sender": "user-1", "text": "hello", **fields},
                      ensure_ascii=False).encode()


def test_plugin_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert type(app.extensions["orqo"].adapters["custom"]).__name__ == "CustomAdapter"
    assert app.extensions["orqo"].adapter_plugins["custom"] == "custom"


def test_default_signature_is_sha256_hex_with_prefix(custom):
    body = body_of(text="Ünïcödé ✓ 🎉")
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(SECRET, body) == expected
    response = custom.deliver(custom.app_id, body, {"X-Signature-256": expected})
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]


def test_uppercase_hex_is_accepted(custom):
    body = body_of()
    value = "sha256=" + sign(SECRET, body).split("=", 1)[1].upper()
    assert custom.deliver(custom.app_id, body, {"X-Signature-256": value}).status_code == 200


@pytest.mark.parametrize("mutate", [
    lambda sig: sig[:-1] + ("0" if sig[-1] != "0" else "1"),
    lambda sig: sig.replace("sha256=", "sha1="),
    lambda sig: sig.replace("sha256=", ""),
    lambda sig: "",
    lambda sig: "sha256=",
])
def test_bad_signatures_are_rejected(custom, mutate):
    body = body_of()
    response = custom.deliver(custom.app_id, body, {"X-Signature-256": mutate(sign(SECRET, body))})
    assert response.status_code == 401
    assert custom.ledger()[0]["outcome"] == "rejected_signature"


def test_reserialised_json_does_not_verify(custom):
    body = body_of(text="café")
    signature = sign(SECRET, body)
    reserialised = json.dumps(json.loads(body)).encode()  # \u00e9 instead of the UTF-8 bytes
    assert reserialised != body
    response = custom.deliver(custom.app_id, reserialised, {"X-Signature-256": signature})
    assert response.status_code == 401


@pytest.mark.parametrize("algorithm,encoding,prefix", [
    ("hmac-sha1", "hex", None),
    ("hmac-sha512", "base64", None),
    ("hmac-sha256", "base64", ""),
    ("hmac-sha256", "hex", "v1="),
])
def test_configurable_algorithms_encodings_and_prefixes(make_app, algorithm, encoding, prefix):
    harness = Harness(make_app(plugins=[orqo_custom]))
    config = {"signature_algorithm": algorithm, "signature_encoding": encoding,
              "signature_header": "X-Hook-Signature"}
    if prefix is not None:
        config["signature_prefix"] = prefix
    app_id = harness.add_app("custom", {"signing_secret": SECRET}, config)
    harness.add_contact({app_id: "user-1"})
    body = body_of()
    digest = hmac.new(SECRET.encode(), body, algorithm.removeprefix("hmac-")).digest()
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    default_prefix = algorithm.removeprefix("hmac-") + "="
    value = (default_prefix if prefix is None else prefix) + text
    assert harness.deliver(app_id, body, {"X-Hook-Signature": value}).status_code == 200
    assert harness.deliver(app_id, body, {"X-Signature-256": value}).status_code == 401


def test_json_pointers_are_configurable(make_app):
    harness = Harness(make_app(plugins=[orqo_custom]))
    app_id = harness.add_app("custom", {"signing_secret": SECRET}, {
        "sender_pointer": "/from/id", "text_pointer": "/message/body", "id_pointer": "/event_id",
        "thread_pointer": "/message/thread", "chat_pointer": "/room",
    })
    contact = harness.add_contact({app_id: "42"})
    body = json.dumps({"event_id": 9001, "from": {"id": 42}, "room": "ops",
                       "message": {"body": "deploy?", "thread": "t-1"}}).encode()
    response = harness.deliver(app_id, body, {"X-Signature-256": sign(SECRET, body)})
    assert response.json["messages"][0]["outcome"] == "routed"
    [message] = harness.ledger()[0]["messages"]
    assert message["dedupe_key"] == "9001"
    assert message["contact_id"] == contact


@pytest.mark.parametrize("body,error", [
    (b"not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (json.dumps({"sender": "user-1", "text": "x"}).encode(), "message id at /id"),
    (json.dumps({"id": "1", "text": "x"}).encode(), "sender at /sender"),
    (json.dumps({"id": "1", "sender": {"nested": True}}).encode(), "string or a number"),
    (json.dumps({"id": "1", "sender": ""}).encode(), "sender at /sender"),
    (json.dumps({"id": "1", "sender": "u", "attachments": "x"}).encode(), "list of objects"),
    (json.dumps({"id": "1", "sender": "u", "sent_at": "yesterday"}).encode(), "Unix seconds"),
])
def test_malformed_bodies_are_400_with_a_clear_reason(custom, body, error):
    response = custom.deliver(custom.app_id, body, {"X-Signature-256": sign(SECRET, body)})
    assert response.status_code == 400
    assert error in response.json["error"]["message"]
    assert custom.ledger()[0]["outcome"] == "malformed"


def test_attachments_are_normalised(custom):
    body = body_of(attachments=[{"kind": "image", "url": "https://files.example/cat.png",
                                 "mime_type": "image/png", "name": "cat.png"}])
    response = custom.deliver(custom.app_id, body, {"X-Signature-256": sign(SECRET, body)})
    assert response.json["messages"][0]["outcome"] == "routed"


def test_invalid_config_is_refused_when_the_app_is_saved(make_app):
    from orqo.errors import ApiError

    harness = Harness(make_app(plugins=[orqo_custom]))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("custom", {}, {"signature_algorithm": "md5", "text_pointer": "no-slash"})
    details = excinfo.value.details
    assert "signing_secret" in details["credentials"]
    assert "signature_algorithm" in details["config"]
    assert "text_pointer" in details["config"]
