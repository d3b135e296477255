"""The custom adapter's send stage: a signed JSON POST to the App's reply URL, and the reply
pointer of inbound messages. The reply URL is mocked with requests-mock."""
import base64
import json

import orqo_custom
import pytest
import requests
from marshmallow import ValidationError
from orqo_custom import CustomAdapter
from standardwebhooks.webhooks import Webhook

from orqo.deadlines import make_session
from orqo.errors import ApiError
from orqo.errors import MalformedDelivery
from orqo.outbound import Http
from orqo.services.apps import find_app_record
from orqo.services.apps import update_app_record
from orqo.stages import SendRequest
from orqo.testing import Harness
from orqo.testing.conformance import make_stage_request
from orqo.testing.signers import hmac_headers

REPLY_URL = "https://replies.example/orqo/outbound"
SIGNING_SECRET = "custom-signing-s3cret"
REPLY_SECRET = "whsec_" + base64.b64encode(b"reply-key-0123456789abcdef012345").decode()
CREDENTIALS = {"signing_secret": SIGNING_SECRET, "reply_secret": REPLY_SECRET}


def settings(config=None, credentials=None):
    """Validated credentials and config, as orqo keeps them."""
    return CustomAdapter.validate_settings(
        CREDENTIALS if credentials is None else credentials,
        {"reply_url": REPLY_URL} if config is None else config)


def send_request(**changes) -> SendRequest:
    credentials, config = settings()
    fields = {"app_id": "AppCustom1", "adapter": "custom", "credentials": credentials,
              "config": config, "message_id": 42, "recipient": "ada", "chat_id": "ops-room",
              "text": "Deploy is done ✅ — Grüße", "in_reply_to": None, "attempt": 1}
    return SendRequest(**{**fields, **changes})


def send(request=None):
    return CustomAdapter().send(request or send_request(), Http(make_session(), seconds=5))


# --- settings --------------------------------------------------------------------------------


def test_without_a_reply_url_the_app_cannot_send_and_needs_no_reply_secret():
    credentials, config = settings(config={}, credentials={"signing_secret": SIGNING_SECRET})
    assert config["reply_url"] is None
    assert CustomAdapter.can_send(config) is False
    assert CustomAdapter.credentials_destination(config) is None


def test_with_a_reply_url_the_app_can_send_and_its_origin_is_the_destination():
    _, config = settings()
    assert CustomAdapter.can_send(config) is True
    assert CustomAdapter.credentials_destination(config) == "https://replies.example:443"
    _, moved = settings(config={"reply_url": "http://127.0.0.1:8099/in"})
    assert CustomAdapter.credentials_destination(moved) == "http://127.0.0.1:8099"


def test_a_blank_reply_url_clears_it():
    _, config = settings(config={"reply_url": " "})
    assert config["reply_url"] is None and not CustomAdapter.can_send(config)


def test_a_reply_url_needs_a_reply_secret():
    with pytest.raises(ValidationError) as caught:
        settings(credentials={"signing_secret": SIGNING_SECRET})
    assert "reply_secret" in caught.value.messages["credentials"]


@pytest.mark.parametrize("secret", ["not-a-whsec-secret-at-all", "whsec_c2hvcnQ=",
                                    "whsec_%%%notbase64%%%"])
def test_a_reply_secret_must_be_a_standard_webhooks_secret(secret):
    with pytest.raises(ValidationError) as caught:
        settings(credentials={**CREDENTIALS, "reply_secret": secret})
    [message] = caught.value.messages["credentials"]["reply_secret"]
    assert "whsec_" in message and secret not in message


@pytest.mark.parametrize("url", ["ftp://replies.example/x", "https://replies.example/x?token=1",
                                 "https://user:pw@replies.example/x", "replies.example/x",
                                 "https://replies.example:99999/"])
def test_a_reply_url_that_is_not_a_plain_http_url_is_refused(url):
    with pytest.raises(ValidationError) as caught:
        settings(config={"reply_url": url})
    assert "reply_url" in caught.value.messages["config"]


def test_an_app_is_saved_with_a_reply_url_through_orqo(make_app):
    harness = Harness(make_app(plugins=[orqo_custom]))
    app_id = harness.add_app("custom", CREDENTIALS, {"reply_url": REPLY_URL})
    with harness.app.app_context():
        record = find_app_record(app_id)
        assert record.config["reply_url"] == REPLY_URL
        assert record.credentials["reply_secret"] == REPLY_SECRET


def test_moving_the_reply_url_to_another_origin_needs_the_credentials_again(make_app):
    harness = Harness(make_app(plugins=[orqo_custom]))
    app_id = harness.add_app("custom", CREDENTIALS, {"reply_url": REPLY_URL})
    with harness.app.app_context():
        # Another path on the same origin: the stored secrets stay.
        update_app_record(app_id, {"config": {"reply_url": REPLY_URL + "/v2"}})
        with pytest.raises(ApiError) as caught:
            update_app_record(app_id, {"config": {"reply_url": "https://elsewhere.example/in"}})
        assert caught.value.status == 422
        update_app_record(app_id, {"config": {"reply_url": "https://elsewhere.example/in"},
                                   "credentials": CREDENTIALS})
        assert find_app_record(app_id).config["reply_url"] == "https://elsewhere.example/in"


# --- sending ---------------------------------------------------------------------------------


def test_a_message_is_posted_as_signed_json(requests_mock):
    requests_mock.post(REPLY_URL, json={"id": "rcv-9"})
    in_reply_to = {"platform_message_id": "m-17", "chat_id": "ops-room", "thread_id": "ops-42",
                   "extra": {}}
    result = send(send_request(in_reply_to=in_reply_to))

    [call] = requests_mock.request_history
    assert call.method == "POST" and call.url == REPLY_URL
    assert call.headers["Content-Type"] == "application/json; charset=utf-8"
    assert call.headers["webhook-id"] == "msg_42"
    # The receiver checks it with the public Standard Webhooks library.
    payload = Webhook(REPLY_SECRET).verify(call.body, dict(call.headers))
    assert payload == {"type": "message.outbound", "app_id": "AppCustom1", "message_id": 42,
                       "recipient": "ada", "chat_id": "ops-room",
                       "text": "Deploy is done ✅ — Grüße", "in_reply_to": in_reply_to}
    assert "✅".encode() in call.body  # UTF-8, not \u escapes

    assert result.status == "sent"
    assert result.platform_message_id == result.reply_key == "rcv-9"
    assert result.chat_id == "ops-room" and result.thread_id == "ops-42"


def test_a_direct_message_has_null_chat_and_in_reply_to(requests_mock):
    requests_mock.post(REPLY_URL, json={"id": "rcv-10"})
    result = send(send_request(chat_id=None))
    body = json.loads(requests_mock.last_request.body)
    assert body["chat_id"] is None and body["in_reply_to"] is None
    assert result.chat_id == "ada"  # as parse gives a message with no chat: the sender


def test_every_attempt_carries_the_same_webhook_id(requests_mock):
    requests_mock.post(REPLY_URL, json={"id": "rcv-9"})
    send(send_request(attempt=1))
    send(send_request(attempt=2))
    assert [call.headers["webhook-id"] for call in requests_mock.request_history] == [
        "msg_42", "msg_42"]


def test_a_numeric_id_is_kept_as_text(requests_mock):
    requests_mock.post(REPLY_URL, json={"id": 1234567})
    assert send().platform_message_id == "1234567"


@pytest.mark.parametrize("answer", [{"status_code": 204},
                                    {"status_code": 200, "text": "ok"},
                                    {"status_code": 202, "json": {"accepted": True}},
                                    {"status_code": 200, "json": ["rcv-9"]}])
def test_a_2xx_without_an_id_is_sent_under_orqos_name(requests_mock, answer):
    requests_mock.post(REPLY_URL, **answer)
    result = send()
    assert result.status == "sent"
    assert result.platform_message_id == result.reply_key == "orqo-42"
    assert result.meta == {}


@pytest.mark.parametrize("given", [True, {"id": 1}, "", "x" * 513])
def test_an_unusable_id_is_ignored_and_said_so(requests_mock, given):
    requests_mock.post(REPLY_URL, json={"id": given})
    result = send()
    assert result.status == "sent" and result.platform_message_id == "orqo-42"
    assert "ignored_id" in result.meta


@pytest.mark.parametrize("status", [429, 503])
def test_a_rate_limit_is_retried_after_the_receivers_wait(requests_mock, status):
    requests_mock.post(REPLY_URL, status_code=status, headers={"Retry-After": "7"},
                       json={"error": "slow down"})
    result = send()
    assert result.status == "retry" and result.retry_after == 7
    assert result.reason == f'the reply URL answered HTTP {status}: {{"error": "slow down"}}'


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 504])
def test_transient_answers_are_retried_with_orqos_backoff(requests_mock, status):
    requests_mock.post(REPLY_URL, status_code=status, text="try later")
    result = send()
    assert result.status == "retry" and result.retry_after is None
    assert result.reason == f"the reply URL answered HTTP {status}: try later"


def test_a_400_fails_with_the_receivers_reason(requests_mock):
    requests_mock.post(REPLY_URL, status_code=400, json={"error": "unknown recipient ada"})
    result = send()
    assert result.status == "failed"
    assert result.reason == 'the reply URL answered HTTP 400: {"error": "unknown recipient ada"}'


def test_a_410_fails_at_once(requests_mock):
    requests_mock.post(REPLY_URL, status_code=410)
    result = send()
    assert result.status == "failed"
    assert result.reason.startswith("the reply URL answered HTTP 410")
    assert "gone" in result.reason


def test_a_redirect_is_not_followed_and_fails(requests_mock):
    requests_mock.post(REPLY_URL, status_code=301,
                       headers={"Location": "https://elsewhere.example/"})
    result = send()
    assert result.status == "failed" and "final URL" in result.reason
    assert len(requests_mock.request_history) == 1


def test_a_secret_echoed_by_the_receiver_is_not_in_the_reason(requests_mock):
    requests_mock.post(REPLY_URL, status_code=401,
                       text=f"bad secret {REPLY_SECRET} / {SIGNING_SECRET}")
    reason = send().reason
    assert REPLY_SECRET not in reason and SIGNING_SECRET not in reason
    assert reason == "the reply URL answered HTTP 401: bad secret [redacted] / [redacted]"


def test_no_answer_raises_for_the_worker_to_retry(requests_mock):
    requests_mock.post(REPLY_URL, exc=requests.exceptions.ConnectionError("refused"))
    with pytest.raises(requests.RequestException):
        send()


def test_without_a_reply_url_nothing_is_sent(requests_mock):
    credentials, config = settings(config={}, credentials={"signing_secret": SIGNING_SECRET})
    result = send(send_request(credentials=credentials, config=config))
    assert result.status == "failed" and "reply_url" in result.reason
    assert not requests_mock.called


def test_an_unusable_reply_secret_fails_without_sending(requests_mock):
    request = send_request()
    request.credentials = {**request.credentials, "reply_secret": "not-whsec"}
    result = send(request)
    assert result.status == "failed" and "reply_secret" in result.reason
    assert "not-whsec" not in result.reason
    assert not requests_mock.called


# --- the reply pointer of inbound messages ---------------------------------------------------


def parsed(document: dict, config=None):
    credentials, config = settings(config=config or {},
                                   credentials={"signing_secret": SIGNING_SECRET})
    body = json.dumps(document).encode()
    request = make_stage_request("AppCustom1", "custom", body,
                                 hmac_headers(SIGNING_SECRET, body), credentials, config)
    return CustomAdapter().parse(request).messages[0]


@pytest.mark.parametrize("value,expected", [("rcv-9", "rcv-9"), ("orqo-42", "orqo-42"),
                                            (1234567, "1234567"), (None, None), ("", None)])
def test_reply_to_is_read_from_its_pointer(value, expected):
    document = {"id": "m-18", "sender": "ada", "text": "yes, go ahead"}
    if value is not None:
        document["reply_to"] = value
    assert parsed(document).reply_to == expected


def test_the_reply_pointer_is_configurable():
    message = parsed({"id": "m-18", "sender": "ada", "context": {"answers": "rcv-9"}},
                     {"reply_to_pointer": "/context/answers"})
    assert message.reply_to == "rcv-9"


def test_a_reply_pointer_at_an_object_is_malformed():
    with pytest.raises(MalformedDelivery, match="reply_to"):
        parsed({"id": "m-18", "sender": "ada", "reply_to": {"id": "rcv-9"}})


def test_an_invalid_reply_pointer_is_refused():
    with pytest.raises(ValidationError) as caught:
        settings(config={"reply_to_pointer": "reply_to"})
    assert "reply_to_pointer" in caught.value.messages["config"]


def test_a_reply_reaches_orqo_with_its_pointer(make_app):
    harness = Harness(make_app(plugins=[orqo_custom]))
    app_id = harness.add_app("custom", {"signing_secret": SIGNING_SECRET})
    harness.add_contact({app_id: "ada"})
    body = json.dumps({"id": "m-18", "sender": "ada", "text": "yes", "reply_to": "rcv-9"}).encode()
    response = harness.deliver(app_id, body, hmac_headers(SIGNING_SECRET, body))
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
