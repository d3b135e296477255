"""The remote adapter's send stage (``POST /deliver``) against a remote adapter service mocked
with requests-mock. The round trip with real processes (orqo's remote adapter, ``orqo
adapter-serve custom`` and a receiving server) is in orqo's tests/test_deliver_roundtrip.py."""
import json

import orqo_remote
import pytest
import requests
from marshmallow import ValidationError
from orqo_remote import RemoteAdapter
from orqo_remote import client

from orqo.deadlines import make_session
from orqo.outbound import Http
from orqo.schemas import SendRequestSchema
from orqo.services.apps import find_app_record
from orqo.stages import SendRequest
from orqo.testing import Harness

URL = "https://custom-adapter.example"
UNREACHABLE = "timed out or connection failed; the adapter could not be reached in time."
REPLY_SECRET = "whsec_cmVwbHkta2V5LTAxMjM0NTY3ODlhYmNkZWYwMTIzNDU="
CREDENTIALS = {"CUSTOM_SIGNING_SECRET": "custom-signing-s3cret",
               "CUSTOM_REPLY_SECRET": REPLY_SECRET}
MANIFEST = {
    "schema_version": "1.0", "name": "custom", "capabilities": ["receive", "send"],
    "credentials": [
        {"key": "CUSTOM_SIGNING_SECRET", "maps_to": "signing_secret", "type": "secret"},
        {"key": "CUSTOM_REPLY_SECRET", "maps_to": "reply_secret", "type": "secret",
         "required": False},
    ],
}
ADAPTER_CONFIG = {"reply_url": "https://replies.example/orqo"}
SENT = {"status": "sent", "platform_message_id": "rcv-9", "chat_id": "ops-room",
        "thread_id": "ops-42", "reply_key": "rcv-9", "retry_after": None, "reason": "",
        "meta": {}}


@pytest.fixture
def service(requests_mock):
    """The adapter service's manifest, and a /deliver that sends."""
    requests_mock.get(f"{URL}/manifest.json", json=MANIFEST)
    requests_mock.post(f"{URL}/deliver", json=SENT)
    return requests_mock


def saved_config(service, **config) -> dict:
    """The App's config as orqo keeps it when the App is saved."""
    return RemoteAdapter.validate_settings(
        CREDENTIALS, {"url": URL, "adapter_config": ADAPTER_CONFIG, **config})[1]


def send_request(config, **changes) -> SendRequest:
    fields = {"app_id": "AppRemote1", "adapter": "remote", "credentials": dict(CREDENTIALS),
              "config": config, "message_id": 42, "recipient": "ada", "chat_id": "ops-room",
              "text": "Deploy is done ✅", "in_reply_to": None, "attempt": 2}
    return SendRequest(**{**fields, **changes})


def send(config, seconds=5, **changes):
    return RemoteAdapter().send(send_request(config, **changes), Http(make_session(), seconds))


def deliver_calls(mock):
    return [call for call in mock.request_history if call.path == "/deliver"]


# --- settings --------------------------------------------------------------------------------


def test_the_manifests_capabilities_are_kept_and_say_whether_the_app_can_send(service):
    config = saved_config(service, capabilities=["receive"])  # a given value is replaced
    assert config["capabilities"] == ["receive", "send"]
    assert config["send_timeout"] == 10.0
    assert RemoteAdapter.can_send(config) is True


def test_an_adapter_that_only_receives_cannot_send(service):
    service.get(f"{URL}/manifest.json", json={**MANIFEST, "capabilities": ["receive"]})
    config = saved_config(service)
    assert RemoteAdapter.can_send(config) is False
    assert RemoteAdapter.can_send({"url": URL}) is False  # saved before capabilities were kept


@pytest.mark.parametrize("value", [0, 0.01, 61, "soon"])
def test_send_timeout_is_bounded(service, value):
    with pytest.raises(ValidationError) as caught:
        saved_config(service, send_timeout=value)
    assert "send_timeout" in caught.value.messages["config"]


def test_a_manifest_with_odd_capabilities_is_refused(service):
    service.get(f"{URL}/manifest.json", json={**MANIFEST, "capabilities": ["receive", ""]})
    with pytest.raises(ValidationError):
        saved_config(service)


def test_an_app_saved_through_orqo_keeps_the_capabilities(make_app, service):
    harness = Harness(make_app(plugins=[orqo_remote]))
    app_id = harness.add_app("remote", CREDENTIALS, {"url": URL, "adapter_config": ADAPTER_CONFIG})
    with harness.app.app_context():
        record = find_app_record(app_id)
        assert record.config["capabilities"] == ["receive", "send"]
        adapter = harness.app.extensions["orqo"].adapters["remote"]
        assert type(adapter).can_send(record.config) is True
        result = adapter.send(send_request(record.config), Http(make_session(), 5))
    assert result.status == "sent"


# --- sending ---------------------------------------------------------------------------------


def test_the_send_request_is_posted_with_mapped_credentials_and_the_adapter_config(service):
    in_reply_to = {"platform_message_id": "m-17", "chat_id": "ops-room", "thread_id": "ops-42",
                   "extra": {"kind": "question"}}
    result = send(saved_config(service), in_reply_to=in_reply_to)
    [call] = deliver_calls(service)
    assert call.method == "POST" and call.headers["Content-Type"] == "application/json"
    assert call.json() == {
        "app_id": "AppRemote1", "adapter": "remote", "message_id": 42, "attempt": 2,
        "credentials": {"signing_secret": CREDENTIALS["CUSTOM_SIGNING_SECRET"],
                        "reply_secret": REPLY_SECRET},
        "config": ADAPTER_CONFIG, "recipient": "ada", "chat_id": "ops-room",
        "text": "Deploy is done ✅", "in_reply_to": in_reply_to}
    assert SendRequestSchema().load(call.json()).message_id == 42
    assert result.status == "sent"
    assert (result.platform_message_id, result.reply_key, result.chat_id, result.thread_id) == (
        "rcv-9", "rcv-9", "ops-room", "ops-42")


def test_a_retry_from_the_adapter_keeps_its_wait(service):
    service.post(f"{URL}/deliver", json={"status": "retry", "retry_after": 7,
                                         "reason": "the reply URL answered HTTP 429"})
    result = send(saved_config(service))
    assert (result.status, result.retry_after, result.reason) == (
        "retry", 7, "the reply URL answered HTTP 429")


def test_a_failed_result_keeps_its_reason_with_the_credentials_blanked(service):
    service.post(f"{URL}/deliver", json={
        "status": "failed", "reason": f"HTTP 401: bad secret {REPLY_SECRET}"})
    result = send(saved_config(service))
    assert result.status == "failed"
    assert result.reason == "HTTP 401: bad secret [redacted]"


@pytest.mark.parametrize("answer,reason", [
    ({"text": "OK"}, "the answer is not valid JSON"),
    ({"json": {"status": "maybe"}}, "not a valid send result"),
    ({"json": {"status": "sent"}}, "not a valid send result"),
    ({"json": [SENT]}, "not a valid send result"),
    ({"status_code": 202, "json": {"queued": True}}, "not a valid send result"),
])
def test_a_2xx_that_is_not_a_send_result_is_a_retry(service, answer, reason):
    service.post(f"{URL}/deliver", **answer)
    result = send(saved_config(service))
    assert result.status == "retry"
    assert result.reason.startswith(f"remote adapter {URL}: POST /deliver")
    assert reason in result.reason


@pytest.mark.parametrize("status,code", [(500, "adapter_error"), (502, None), (503, None),
                                         (429, "rate_limited"), (408, None)])
def test_the_adapters_own_trouble_is_a_retry(service, status, code):
    error = {"error": {"code": code, "message": "try later", "details": {}}} if code else None
    service.post(f"{URL}/deliver", status_code=status,
                 **({"json": error} if error else {"text": "<html>Bad Gateway</html>"}))
    result = send(saved_config(service))
    assert result.status == "retry" and result.retry_after is None
    named = f" ({code}): try later" if code else ""
    assert result.reason == f"remote adapter {URL}: POST /deliver answered HTTP {status}{named}"


def test_a_4xx_in_orqos_error_shape_fails_with_the_adapters_message_redacted(service):
    service.post(f"{URL}/deliver", status_code=422, json={"error": {
        "code": "invalid_settings",
        "message": f"The credentials or config are not valid (got {REPLY_SECRET}).",
        "details": {"credentials": {"reply_secret": ["Must be a whsec_ secret."]}}}})
    result = send(saved_config(service))
    assert result.status == "failed"
    assert result.reason == (
        f"remote adapter {URL}: POST /deliver answered HTTP 422 (invalid_settings): The "
        "credentials or config are not valid (got [redacted]). "
        '{"credentials": {"reply_secret": ["Must be a whsec_ secret."]}}')


def test_an_adapter_that_cannot_send_fails(service):
    service.post(f"{URL}/deliver", status_code=501, json={"error": {
        "code": "send_not_supported", "message": "Adapter 'x' cannot send messages.",
        "details": {}}})
    result = send(saved_config(service))
    assert result.status == "failed" and "(send_not_supported)" in result.reason


def test_an_error_page_fails_with_its_status(service):
    service.post(f"{URL}/deliver", status_code=404, text="<html>Not Found</html>")
    result = send(saved_config(service))
    assert result == result.failed(f"remote adapter {URL}: POST /deliver answered HTTP 404")


def test_an_adapter_that_cannot_be_reached_is_a_retry_not_an_exception(service):
    service.post(f"{URL}/deliver", exc=requests.exceptions.ConnectionError("refused"))
    result = send(saved_config(service))
    assert result.status == "retry"
    assert result.reason == f"remote adapter {URL}: POST /deliver: {UNREACHABLE}"


def test_a_redirect_is_not_followed_and_fails(service):
    service.post(f"{URL}/deliver", status_code=307, headers={"Location": "https://x.example/"})
    result = send(saved_config(service))
    assert result.status == "failed" and "redirect" in result.reason
    assert len(deliver_calls(service)) == 1


def test_a_host_the_allowlist_no_longer_has_fails_without_a_request(service, monkeypatch):
    config = saved_config(service)
    monkeypatch.setattr(client, "allowed_hosts", lambda: ["other.example"])
    result = send(config)
    assert result.status == "failed" and "REMOTE_ADAPTER_ALLOWED_HOSTS" in result.reason
    assert deliver_calls(service) == []


def test_the_call_is_bounded_by_send_timeout_and_by_the_attempt(service, monkeypatch):
    bounds = []
    real_call = client.call

    def call(session, method, base_url, path, **kwargs):
        if path == "/deliver":
            bounds.append((kwargs["read_timeout"], kwargs["deadline"] - client.clock()))
        return real_call(session, method, base_url, path, **kwargs)

    short, long = saved_config(service, send_timeout=2), saved_config(service, send_timeout=20)
    monkeypatch.setattr(client, "call", call)
    send(short, seconds=30)
    send(long, seconds=3)
    (first_read, first_left), (second_read, second_left) = bounds
    assert first_read <= 2 and first_left <= 2
    assert second_read <= 3 and second_left <= 3


def test_an_attempt_with_no_time_left_is_a_retry_without_a_request(service):
    result = send(saved_config(service), seconds=0)
    assert result.status == "retry" and "time is used up" in result.reason
    assert deliver_calls(service) == []


def test_the_body_never_carries_credentials_the_manifest_does_not_declare(service):
    config = saved_config(service)
    send(config, credentials={**CREDENTIALS, "EXTRA": "not-for-the-adapter"})
    assert "not-for-the-adapter" not in json.dumps(deliver_calls(service)[0].json())


def test_adapters_check_sees_a_send_capability_that_changed(service):
    service.get(f"{URL}/health", json={"status": "ready", "version": "1"})
    config = saved_config(service)
    assert RemoteAdapter().check(CREDENTIALS, config)["ready"] is True
    service.get(f"{URL}/manifest.json", json={**MANIFEST, "capabilities": ["receive"]})
    report = RemoteAdapter().check(CREDENTIALS, config)
    assert report["ready"] is False
    assert report["errors"] == ["The manifest's send capability changed since the App was "
                                "saved; save the App's settings again."]


def test_moving_a_url_of_the_adapter_config_is_another_credentials_destination():
    def destination(**adapter_config):
        return RemoteAdapter.credentials_destination({"url": URL,
                                                      "adapter_config": adapter_config})

    assert destination() == destination(mode="hmac") == "https://custom-adapter.example:443"
    here = destination(reply_url="https://replies.example/orqo", mode="hmac")
    assert here == ("https://custom-adapter.example:443 "
                    "reply_url=https://replies.example:443")
    assert destination(reply_url="https://replies.example/other") == here
    assert destination(reply_url="https://elsewhere.example/orqo") != here
    assert destination(api_base_url="http://127.0.0.1:8081") != destination(
        api_base_url="http://127.0.0.1:8082")
