"""The Slack adapter in orqo: installation, settings, handshakes, retries and odd bodies."""
import json
import time

import orqo_slack
import pytest
from orqo_slack.testing import SECRET
from orqo_slack.testing import block_actions
from orqo_slack.testing import encode
from orqo_slack.testing import envelope
from orqo_slack.testing import form
from orqo_slack.testing import message_event
from orqo_slack.testing import signed

from orqo import create_app
from orqo.errors import ApiError
from orqo.testing import Harness

CHALLENGE = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


def url_verification(challenge=CHALLENGE) -> bytes:
    return json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge,
                       "type": "url_verification"}).encode()


def test_plugin_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert type(app.extensions["orqo"].adapters["slack"]).__name__ == "SlackAdapter"
    assert app.extensions["orqo"].adapter_plugins["slack"] == "slack"


def test_settings_have_defaults():
    credentials, config = orqo_slack.SlackAdapter.validate_settings(
        {"SLACK_SIGNING_SECRET": SECRET}, {})
    assert credentials == {"SLACK_SIGNING_SECRET": SECRET}
    assert config == {"timestamp_window": 300, "bot_user_id": None, "app_id": None,
                      "api_base_url": "https://slack.com/api"}


@pytest.mark.parametrize("credentials,config,field", [
    ({}, {}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_SIGNING_SECRET": ""}, {}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_SIGNING_SECRET": SECRET + "\n"}, {}, "SLACK_SIGNING_SECRET"),
    ({"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": "xoxb- with spaces"}, {},
     "SLACK_BOT_TOKEN"),
    ({"SLACK_SIGNING_SECRET": SECRET}, {"timestamp_window": 0}, "timestamp_window"),
    ({"SLACK_SIGNING_SECRET": SECRET}, {"timestamp_window": -300}, "timestamp_window"),
    ({"SLACK_SIGNING_SECRET": SECRET}, {"timestamp_window": "five minutes"}, "timestamp_window"),
    ({"SLACK_SIGNING_SECRET": SECRET}, {"bot_user_id": "u0bot"}, "bot_user_id"),
    ({"SLACK_SIGNING_SECRET": SECRET}, {"app_id": "A"}, "app_id"),
])
def test_bad_settings_are_refused_when_the_app_is_saved(make_app, credentials, config, field):
    harness = Harness(make_app(plugins=[orqo_slack]))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("slack", credentials, config)
    assert excinfo.value.status == 422
    assert field in json.dumps(excinfo.value.details)
    assert SECRET not in json.dumps(excinfo.value.details)


def test_url_verification_is_answered_with_the_challenge(slack):
    body = url_verification()
    response = slack.deliver(slack.app_id, body, {**signed(body),
                                                  "Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.data == CHALLENGE.encode()
    assert response.mimetype == "text/plain"
    [entry] = slack.ledger()
    assert (entry["outcome"], entry["messages"]) == ("challenge", [])


@pytest.mark.parametrize("headers", [
    lambda body: {},
    lambda body: signed(body, secret="not-the-signing-secret"),
    lambda body: signed(body, timestamp=time.time() - 600),
])
def test_url_verification_is_not_answered_unless_signed(slack, headers):
    body = url_verification()
    response = slack.deliver(slack.app_id, body, headers(body))
    assert response.status_code == 401
    assert CHALLENGE.encode() not in response.data
    assert slack.ledger()[0]["outcome"] == "rejected_signature"


def test_url_verification_without_a_challenge_is_malformed(slack):
    body = url_verification(challenge="")
    response = slack.deliver(slack.app_id, body, signed(body))
    assert response.status_code == 400
    assert "challenge" in response.json["error"]["message"]


@pytest.mark.parametrize("body", [b"ssl_check=1&token=Jhj5dZrVaK7ZwHHjRyZWjbDl", b"ssl_check=1"])
def test_unsigned_ssl_check_is_answered_200_and_routes_nothing(slack, body):
    # Slack sends ssl_check without signature headers (bolt-js#1397).
    response = slack.deliver(slack.app_id, body,
                             {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert response.json["messages"] == []
    [entry] = slack.ledger()
    assert (entry["outcome"], entry["reason"]) == ("unsigned", "ssl_check")


def test_signed_ssl_check_is_answered_200_too(slack):
    body = b"ssl_check=1&token=Jhj5dZrVaK7ZwHHjRyZWjbDl"
    assert slack.deliver(slack.app_id, body, signed(body)).status_code == 200


@pytest.mark.parametrize("body", [
    # bolt-js#2897: an event smuggled next to ssl_check=1 must not skip the signature check.
    b"ssl_check=1&payload=" + form(block_actions()).split(b"=", 1)[1],
    b"ssl_check=1&token=x&token=y",
    b"ssl_check=0&token=Jhj5dZrVaK7ZwHHjRyZWjbDl",
    b"ssl_check=true",
    b"ssl_check=1&event=%7B%7D",
])
def test_anything_more_than_a_bare_ssl_check_needs_a_signature(slack, body):
    response = slack.deliver(slack.app_id, body,
                             {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 401
    assert slack.ledger()[0]["outcome"] == "rejected_signature"


def test_a_retry_of_a_stored_message_is_a_duplicate_and_its_headers_are_recorded(slack):
    body = encode(envelope(message_event()))
    first = slack.deliver(slack.app_id, body, signed(body))
    retry_headers = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    retry = slack.deliver(slack.app_id, body,
                          signed(body, timestamp=time.time() + 1, **retry_headers))
    assert first.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    assert retry.status_code == 200
    assert retry.json["messages"] == [{"outcome": "duplicate", "handler": None}]
    newest, oldest = slack.ledger()
    assert newest["meta"] == {"slack_retry_num": 1, "slack_retry_reason": "http_timeout"}
    assert oldest["meta"] == {}


def test_a_retry_of_something_never_stored_is_routed(slack):
    body = encode(envelope(message_event(ts="1717172000.000100"), event_id="Ev06RETRY0001"))
    response = slack.deliver(slack.app_id, body, signed(
        body, **{"X-Slack-Retry-Num": "3", "X-Slack-Retry-Reason": "http_error"}))
    assert response.json["messages"][0]["outcome"] == "routed"
    assert slack.ledger()[0]["meta"] == {"slack_retry_num": 3, "slack_retry_reason": "http_error"}


def test_odd_retry_headers_are_not_recorded(slack):
    body = encode(envelope(message_event()))
    headers = [*signed(body).items(), ("X-Slack-Retry-Num", "1; drop table"),
               ("X-Slack-Retry-Reason", "Timeout <script>")]
    assert slack.deliver(slack.app_id, body, headers).status_code == 200
    assert slack.ledger()[0]["meta"] == {}


def test_app_rate_limited_is_recorded_with_its_reason(slack):
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "app_rate_limited",
                       "team_id": "T0ACME123", "minute_rate_limited": 1518467820,
                       "api_app_id": "A0ORQOAPP"}).encode()
    response = slack.deliver(slack.app_id, body, signed(body))
    assert response.status_code == 200
    [entry] = slack.ledger()
    assert entry["reason"].startswith("app_rate_limited")
    assert entry["meta"] == {"slack_minute_rate_limited": 1518467820}


def test_an_unknown_envelope_type_is_ignored_not_refused(slack):
    body = json.dumps({"type": "some_future_envelope", "team_id": "T0ACME123"}).encode()
    response = slack.deliver(slack.app_id, body, signed(body))
    assert response.status_code == 200
    assert "some_future_envelope" in slack.ledger()[0]["reason"]


def _event(**fields):
    return encode(envelope(message_event(**fields)))


def _without(document, *keys):
    return {key: value for key, value in document.items() if key not in keys}


MALFORMED = [
    (b"{not json", "not valid JSON"),
    (b"[]", "JSON object"),
    (b"[{\"type\": \"event_callback\"}]", "JSON object"),
    (b"\"event_callback\"", "JSON object"),
    (b"[" * 100000 + b"]" * 100000, "not valid JSON"),
    (b"   ", "empty"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"hello=world", "neither a payload nor ssl_check"),
    (b"%%%", "neither JSON nor a form"),
    (b"payload=%7Bnot+json", "payload field is not valid JSON"),
    (b"payload=%5B1%5D", "payload field must be a JSON object"),
    (b"payload=%7B%7D&payload=%7B%7D", "more than one payload"),
    (json.dumps({"event": {}}).encode(), "no type"),
    (json.dumps({"type": 7}).encode(), "no type"),
    (encode(_without(envelope(message_event()), "event")), "no event"),
    (encode(_without(envelope(message_event()), "event_id")), "no event_id"),
    (encode(envelope(message_event(), event_id=12345)), "event_id must be a string"),
    (encode(envelope("a message")), "event must be an object"),
    (encode(envelope(_without(message_event(), "type"))), "event has no type"),
    (encode(envelope(_without(message_event(), "channel"))), "has no channel"),
    (encode(envelope(_without(message_event(), "ts"))), "has no ts"),
    (_event(ts="nan"), "not a Slack timestamp"),
    (_event(ts="1717171717.000200; rm"), "not a Slack timestamp"),
    (_event(thread_ts=1717171717.0002), "thread_ts must be a string"),
    (_event(text=["Hallo"]), "text must be a string"),
    (_event(user={"id": "U0ADA0001"}), "user must be a string"),
    (_event(user="U" * 300), "longer than 255"),
    (_event(files="F0123ABCD"), "files must be a list of objects"),
    (_event(files=[{"name": "Bericht.pdf"}]), "file has no id"),
    (encode(_without(envelope(_without(message_event(), "team")), "team_id")), "no team_id"),
    (form(_without(block_actions(), "type")), "no type"),
    (form(block_actions(actions=[])), "no actions"),
    (form(block_actions(actions=["approve"])), "no actions"),
    (form(_without(block_actions(), "user")), "no user"),
    (form(block_actions(user={"id": "U0ADA0001"}, team=None)), "no team id"),
    (form(block_actions(actions=[{"action_id": "approve", "type": "button"}])), "no action_ts"),
    (form(block_actions(actions=[{"action_ts": "1717171830.123456", "type": "button"}])),
     "no action_id"),
    (form(block_actions(actions=[{"action_id": "a", "action_ts": "1717171830.1",
                                  "value": {"nested": 1}}])), "value must be a string"),
]


@pytest.mark.parametrize("body,reason", MALFORMED,
                         ids=[f"{i}-{reason}" for i, (_, reason) in enumerate(MALFORMED)])
def test_malformed_bodies_are_400_with_a_clear_reason(slack, body, reason):
    response = slack.deliver(slack.app_id, body, signed(body))
    assert response.status_code == 400, response.json
    assert reason in response.json["error"]["message"]
    [entry] = slack.ledger()
    assert entry["outcome"] == "malformed"
    assert SECRET not in entry["reason"]


def test_refusals_tell_slack_not_to_retry_but_503s_do_not(make_app):
    import orqo_slack

    from orqo.testing import Harness

    harness = Harness(make_app(plugins=[orqo_slack]))
    app_id = harness.add_app("slack", {"SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5"})
    forged = harness.deliver(app_id, b'{"type": "event_callback"}', {
        "X-Slack-Signature": "v0=" + "0" * 64, "X-Slack-Request-Timestamp": "1"})
    assert forged.status_code == 401
    assert forged.headers["X-Slack-No-Retry"] == "1"
