"""``POST /deliver`` of orqo's adapter server: the send stage of an installed adapter over ORQO's
HTTP adapter contract. The platform (the custom adapter's reply URL) is mocked with
requests-mock; the round trip with real processes is in tests/test_deliver_roundtrip.py."""
import base64
import json

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from orqo import hookimpl
from orqo.adapters import Adapter
from orqo.adapter_server import create_adapter_app
from orqo.schemas import SendResultSchema
from orqo.stages import SendResult
from tests.plugins.fake_adapter import FakeAdapter

REPLY_URL = "https://replies.example/orqo/outbound"
SIGNING_SECRET = "custom-signing-s3cret"
REPLY_SECRET = "whsec_" + base64.b64encode(b"reply-key-0123456789abcdef012345").decode()


def send_json(**changes) -> dict:
    """A send request as orqo's remote adapter POSTs it to ``/deliver``."""
    return {"app_id": "AppRemote1", "adapter": "remote", "message_id": 42, "attempt": 1,
            "credentials": {"signing_secret": SIGNING_SECRET, "reply_secret": REPLY_SECRET},
            "config": {"reply_url": REPLY_URL}, "recipient": "ada", "chat_id": "ops-room",
            "text": "Deploy is done ✅", "in_reply_to": None, **changes}


@pytest.fixture
def custom():
    """The installed custom adapter served; its test client."""
    return create_adapter_app("custom").test_client()


def test_an_adapter_with_a_send_stage_advertises_send(custom):
    manifest = custom.get("/manifest.json").get_json()
    assert manifest["capabilities"] == ["receive", "send"]
    assert {c["key"]: c["required"] for c in manifest["credentials"]} == {
        "signing_secret": True, "reply_secret": False}


def test_a_message_is_sent_and_the_result_is_answered(custom, requests_mock):
    requests_mock.post(REPLY_URL, json={"id": "rcv-9"})
    in_reply_to = {"platform_message_id": "m-17", "chat_id": "ops-room", "thread_id": "ops-42",
                   "extra": {}}
    response = custom.post("/deliver", json=send_json(in_reply_to=in_reply_to))
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "sent", "platform_message_id": "rcv-9", "chat_id": "ops-room",
        "thread_id": "ops-42", "reply_key": "rcv-9", "retry_after": None, "reason": "",
        "meta": {}}
    [call] = requests_mock.request_history
    assert call.headers["webhook-id"] == "msg_42"
    body = Webhook(REPLY_SECRET).verify(call.body, dict(call.headers))
    assert body["text"] == "Deploy is done ✅" and body["in_reply_to"] == in_reply_to


@pytest.mark.parametrize("answer,expected", [
    ({"status_code": 429, "headers": {"Retry-After": "7"}, "text": "slow down"},
     {"status": "retry", "retry_after": 7.0,
      "reason": "the reply URL answered HTTP 429: slow down"}),
    ({"status_code": 500, "text": "oops"},
     {"status": "retry", "retry_after": None, "reason": "the reply URL answered HTTP 500: oops"}),
    ({"status_code": 400, "json": {"error": "unknown recipient"}},
     {"status": "failed", "retry_after": None,
      "reason": 'the reply URL answered HTTP 400: {"error": "unknown recipient"}'}),
])
def test_retry_and_failed_results_are_answered_200(custom, requests_mock, answer, expected):
    requests_mock.post(REPLY_URL, **answer)
    response = custom.post("/deliver", json=send_json())
    assert response.status_code == 200
    data = response.get_json()
    assert {key: data[key] for key in expected} == expected
    assert data["platform_message_id"] is None
    assert SendResultSchema().load(data).status == expected["status"]


def test_a_platform_that_cannot_be_reached_is_a_retry(custom, requests_mock, caplog):
    requests_mock.post(REPLY_URL, exc=requests.exceptions.ConnectTimeout(
        f"timed out: {REPLY_URL}/secret-path"))
    response = custom.post("/deliver", json=send_json())
    assert response.status_code == 200
    assert response.get_json()["status"] == "retry"
    assert response.get_json()["reason"] == "the platform could not be reached: ConnectTimeout"
    assert "ConnectTimeout" in caplog.text and "secret-path" not in caplog.text


def test_an_app_without_a_reply_url_gets_a_failed_result(custom, requests_mock):
    response = custom.post("/deliver", json=send_json(
        config={}, credentials={"signing_secret": SIGNING_SECRET}))
    assert response.status_code == 200
    data = response.get_json()
    assert data["status"] == "failed" and "reply_url" in data["reason"]
    assert not requests_mock.called


def test_settings_are_validated_as_for_the_stage_endpoints(custom, requests_mock):
    response = custom.post("/deliver", json=send_json(
        credentials={"signing_secret": SIGNING_SECRET}))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_settings"
    assert list(error["details"]["credentials"]) == ["reply_secret"]
    assert not requests_mock.called


@pytest.mark.parametrize("data,status,code", [
    (b"", 400, "bad_request"),
    (b"{not json", 400, "bad_request"),
    (b"[]", 422, "validation_error"),
    (b"{}", 422, "validation_error"),
    (json.dumps(send_json(message_id="42")).encode(), 422, "validation_error"),
    (json.dumps(send_json(attempt=0)).encode(), 422, "validation_error"),
    (json.dumps(send_json(text=None)).encode(), 422, "validation_error"),
    (json.dumps(send_json(in_reply_to="m-17")).encode(), 422, "validation_error"),
    (json.dumps(send_json(credentials="x")).encode(), 422, "validation_error"),
])
def test_a_bad_send_request_is_4xx_in_the_error_shape(custom, requests_mock, data, status, code):
    response = custom.post("/deliver", data=data, content_type="application/json")
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.get_json()["error"]) == {"code", "message", "details"}
    assert response.get_json()["error"]["code"] == code
    assert not requests_mock.called


class ReceiveOnly(FakeAdapter):
    """The fake adapter without a send stage."""

    platform = "receive-only"
    send = Adapter.send


class Sender(FakeAdapter):
    """The fake adapter with a send stage that answers as its message's text says."""

    platform = "sender"

    def send(self, request, http):
        if request.text == "crash":
            raise RuntimeError("the sender crashed with token t-123")
        if request.text == "not a result":
            return {"status": "sent"}
        if request.text == "too long an id":
            return SendResult.sent("x" * 600)
        return SendResult.sent(f"sent-{request.message_id}", chat_id=request.chat_id)


class AdaptersPlugin:
    @hookimpl
    def register_adapters(self, register):
        register(ReceiveOnly)
        register(Sender)


def serve(platform: str):
    return create_adapter_app(platform, load_entrypoints=False,
                              plugins=[AdaptersPlugin()]).test_client()


@pytest.fixture
def sender():
    return serve("sender")


def test_an_adapter_without_a_send_stage_answers_501(requests_mock):
    server = serve("receive-only")
    assert server.get("/manifest.json").get_json()["capabilities"] == ["receive"]
    response = server.post("/deliver", json=send_json(credentials={"token": "t"}, config={}))
    assert response.status_code == 501
    assert response.get_json()["error"]["code"] == "send_not_supported"
    assert not requests_mock.called


def test_any_adapter_that_sends_is_served(sender):
    assert sender.get("/manifest.json").get_json()["capabilities"] == ["receive", "send"]
    response = sender.post("/deliver", json=send_json(credentials={"token": "t"}, config={},
                                                      text="hello", message_id=7))
    assert response.status_code == 200
    assert response.get_json()["platform_message_id"] == "sent-7"


@pytest.mark.parametrize("text", ["crash", "not a result", "too long an id"])
def test_an_adapter_failure_is_500_without_details(sender, text):
    response = sender.post("/deliver", json=send_json(credentials={"token": "t"}, config={},
                                                      text=text))
    assert response.status_code == 500
    error = response.get_json()["error"]
    assert error["code"] == "adapter_error"
    assert "t-123" not in response.get_data(as_text=True)
