"""The remote adapter against a remote adapter service mocked with requests-mock.

The mocked service is Slack-shaped (what ``orqo adapter-serve slack`` or ORQO's hosted Slack
adapter answers); the real round trip with processes is in orqo's tests/test_remote_roundtrip.py.
"""
import base64
import io
import json
import time

import orqo_remote
import pytest
import requests
from requests_mock import ANY
from orqo_remote import RemoteAdapter
from orqo_remote import RemoteAdapterError
from orqo_remote import check_url

from orqo import create_app
from orqo.errors import ApiError
from orqo.schemas import StageRequestSchema
from orqo.services.apps import describe_app
from orqo.services.apps import list_apps
from orqo.services.apps import rotate_credentials
from orqo.testing import Harness

URL = "https://slack-adapter.example"
#: The one reason for every way of not reaching the adapter (refused, not found, timed out...).
UNREACHABLE = "timed out or connection failed; the adapter could not be reached in time."

MANIFEST = {
    "schema_version": "1.0",
    "name": "slack",
    "description": "Slack Events API and interactivity",
    "icon": "https://slack-adapter.example/static/slack.svg",
    "category": "messaging",
    "capabilities": ["send", "receive"],
    "credentials": [
        {"key": "SLACK_SIGNING_SECRET", "type": "secret", "label": "Signing Secret",
         "maps_to": "signing_secret"},
        {"key": "SLACK_BOT_TOKEN", "type": "secret", "label": "Bot User OAuth Token",
         "maps_to": "bot_token"},
    ],
    "setup_instructions": "Create a Slack app, enable Event Subscriptions and paste the "
                          "webhook URL orqo shows for the App.",
    "author": "ORQO",
}

HEALTH = {"status": "ready", "version": "2024.11.3-7f3c2e1", "adapter": "slack"}

CREDENTIALS = {
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "SLACK_BOT_TOKEN": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
}

SENDER = "T0001ABCD:U2147483697"

# What Slack POSTs (the raw body orqo received), with non-ASCII text and an emoji.
SLACK_EVENT = json.dumps({
    "token": "XXYYZZ",
    "team_id": "T0001ABCD",
    "api_app_id": "A0FFV41KK",
    "event": {
        "type": "message",
        "channel": "C2147483705",
        "user": "U2147483697",
        "text": "Grüße aus Zürich 👋 — is the deploy done?",
        "ts": "1355517523.000005",
        "event_ts": "1355517523.000005",
        "channel_type": "channel",
    },
    "type": "event_callback",
    "event_id": "Ev0PV52K21",
    "event_time": 1355517523,
}, ensure_ascii=False).encode("utf-8")

# What the remote adapter answers from /parse-inbound for it (orqo's ParseResultSchema).
PARSE_RESULT = {
    "messages": [{
        "platform": "slack",
        "sender_id": SENDER,
        "sender_name": None,
        "text": "Grüße aus Zürich 👋 — is the deploy done?",
        "chat_id": "T0001ABCD:C2147483705",
        "thread_id": None,
        "platform_message_id": "1355517523.000005",
        "dedupe_key": "Ev0PV52K21",
        "sent_at": 1355517523.000005,
        "kind": "message",
        "action_id": None,
        "action_value": None,
        "attachments": [],
        "extra": {"channel_type": "channel"},
    }],
    "challenge": None,
    "reason": "",
    "meta": {"event_id": "Ev0PV52K21"},
}

SLACK_HEADERS = {"Content-Type": "application/json", "X-Slack-Request-Timestamp": "1355517523",
                 "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd275"
                                      "19666489c69b503"}


def sent_body(history_entry) -> bytes:
    """The raw delivery body inside a stage request orqo sent."""
    return base64.b64decode(history_entry.json()["body"])


@pytest.fixture
def adapter_service(requests_mock):
    """The remote adapter's manifest and health, and stage answers that accept and route."""
    requests_mock.get(f"{URL}/manifest.json", json=MANIFEST)
    requests_mock.get(f"{URL}/health", json=HEALTH)
    requests_mock.post(f"{URL}/verify-webhook", json={"accepted": True})
    requests_mock.post(f"{URL}/parse-inbound", json=PARSE_RESULT)
    return requests_mock


@pytest.fixture
def remote(make_app, adapter_service):
    """A Harness with a remote App (``app_id``) and a Contact on it."""
    harness = Harness(make_app(plugins=[orqo_remote]))
    harness.app_id = harness.add_app("remote", CREDENTIALS, {"url": URL})
    harness.contact_id = harness.add_contact({harness.app_id: SENDER})
    harness.mock = adapter_service
    return harness


def assert_adapter_error(harness, response, reason_part):
    """503 with Retry-After, recorded adapter_error with the reason, nothing routed."""
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "5"
    assert response.json["error"]["code"] == "adapter_error"
    entry = harness.ledger()[0]
    assert entry["outcome"] == "adapter_error"
    assert entry["status_code"] == 503
    assert reason_part in entry["reason"], entry["reason"]
    assert entry["messages"] == []
    for secret in CREDENTIALS.values():
        assert secret not in entry["reason"]


# --- installation and App settings ---------------------------------------------------------

def test_plugin_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert isinstance(app.extensions["orqo"].adapters["remote"], RemoteAdapter)
    assert app.extensions["orqo"].adapter_plugins["remote"] == "remote"


def test_creating_an_app_keeps_the_manifests_credential_names(remote):
    with remote.app.app_context():
        [described] = [describe_app(record) for record in list_apps()]
    assert described["credentials_set"] == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"]
    assert described["config"] == {
        "url": URL, "budget_seconds": 2.5, "connect_timeout": 1.0,
        "max_response_bytes": 1024 * 1024, "adapter_config": {},
        "credential_map": {"SLACK_SIGNING_SECRET": "signing_secret",
                           "SLACK_BOT_TOKEN": "bot_token"},
        "send_timeout": 10.0, "capabilities": ["send", "receive"],
    }


@pytest.mark.parametrize("credentials,field,message", [
    ({"SLACK_SIGNING_SECRET": "s3cret-value"}, "SLACK_BOT_TOKEN", "Missing data"),
    ({**CREDENTIALS, "signing_secret": "x"}, "signing_secret", "does not declare"),
    ({**CREDENTIALS, "SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN", "non-empty"),
])
def test_credentials_are_checked_against_the_manifest(make_app, adapter_service, credentials,
                                                      field, message):
    harness = Harness(make_app(plugins=[orqo_remote]))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", credentials, {"url": URL})
    assert excinfo.value.status == 422
    assert message in excinfo.value.details["credentials"][field][0]


def test_a_credential_the_manifest_marks_optional_may_be_left_out(make_app, requests_mock):
    manifest = json.loads(json.dumps(MANIFEST))
    manifest["credentials"][1]["required"] = False
    requests_mock.get(f"{URL}/manifest.json", json=manifest)
    harness = Harness(make_app(plugins=[orqo_remote]))
    assert harness.add_app("remote", {"SLACK_SIGNING_SECRET": "s3cret-value"}, {"url": URL})


def without(mapping, key):
    return {k: v for k, v in mapping.items() if k != key}


@pytest.mark.parametrize("answer,message", [
    ({"json": without(MANIFEST, "name")}, "name"),
    ({"json": without(MANIFEST, "schema_version")}, "schema_version"),
    ({"json": {**MANIFEST, "capabilities": ["send"]}}, "'receive' capability"),
    ({"json": {**MANIFEST, "credentials": MANIFEST["credentials"] * 2}}, "must be unique"),
    ({"json": {**MANIFEST, "credentials": [{"key": "A", "label": "no maps_to"}]}}, "maps_to"),
    ({"json": [MANIFEST]}, "not a valid manifest"),
    ({"text": "<html>Service Unavailable</html>"}, "not valid JSON"),
    ({"status_code": 500, "json": {"error": "boom"}}, "HTTP 500"),
    ({"status_code": 302, "headers": {"Location": "https://elsewhere.example/manifest.json"}},
     "does not follow"),
    ({"exc": requests.exceptions.ConnectionError}, UNREACHABLE),
    ({"exc": requests.exceptions.ReadTimeout}, UNREACHABLE),
])
def test_an_unusable_manifest_refuses_the_app(make_app, requests_mock, answer, message):
    requests_mock.get(f"{URL}/manifest.json", **answer)
    harness = Harness(make_app(plugins=[orqo_remote]))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", CREDENTIALS, {"url": URL})
    [reason] = excinfo.value.details["config"]["url"]
    assert message in reason
    assert URL in reason
    assert len(requests_mock.request_history) == 1  # a redirect is not followed


def test_invalid_config_is_refused_before_any_request(make_app, requests_mock):
    harness = Harness(make_app(plugins=[orqo_remote]))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", CREDENTIALS, {"url": URL, "budget_seconds": "0",
                                                "adapter_config": "[1, 2]", "colour": "red"})
    details = excinfo.value.details["config"]
    assert set(details) == {"budget_seconds", "adapter_config", "colour"}
    assert requests_mock.request_history == []


@pytest.mark.parametrize("url", [
    "https://slack-adapter.example", "https://slack-adapter.example:8443/adapters/slack/",
    "http://127.0.0.1:8100", "http://127.8.9.10", "http://[::1]:8100", "http://localhost:8100",
])
def test_allowed_urls(url):
    assert check_url(url, []) == url.rstrip("/")


def test_allowlisted_hosts_match_whatever_their_case():
    assert check_url("HTTPS://Slack-Adapter.Example./", ["slack-adapter.example"]) == (
        "https://Slack-Adapter.Example.")


@pytest.mark.parametrize("url,message", [
    ("http://slack-adapter.example", "must use https"),
    ("http://10.0.0.7:8100", "must use https"),
    ("http://169.254.169.254/latest", "must use https"),
    ("http://localhost.evil.example", "must use https"),
    ("ftp://slack-adapter.example", "https://host"),
    ("slack-adapter.example", "https://host"),
    ("https://user:pass@slack-adapter.example", "user or password"),
    ("https://slack-adapter.example/?token=abc", "query"),
    ("https://slack-adapter.example:99999", "not valid"),
    ("", "required"),
])
def test_refused_urls(url, message):
    with pytest.raises(RemoteAdapterError, match=message):
        check_url(url, [])


def test_a_non_https_url_is_refused_when_the_app_is_created(make_app, requests_mock):
    harness = Harness(make_app(plugins=[orqo_remote]))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", CREDENTIALS, {"url": "http://slack-adapter.example"})
    assert "must use https" in excinfo.value.details["config"]["url"][0]
    assert requests_mock.request_history == []


@pytest.mark.parametrize("allowed", [["other.example"], "other.example, internal.example"])
def test_a_host_outside_the_allowlist_is_refused_at_creation(make_app, requests_mock, allowed):
    harness = Harness(make_app(plugins=[orqo_remote], REMOTE_ADAPTER_ALLOWED_HOSTS=allowed))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("remote", CREDENTIALS, {"url": URL})
    assert "not in REMOTE_ADAPTER_ALLOWED_HOSTS" in excinfo.value.details["config"]["url"][0]
    assert requests_mock.request_history == []


def test_a_host_in_the_allowlist_is_called(make_app, adapter_service):
    harness = Harness(make_app(plugins=[orqo_remote],
                               REMOTE_ADAPTER_ALLOWED_HOSTS="slack-adapter.example"))
    app_id = harness.add_app("remote", CREDENTIALS, {"url": URL})
    harness.add_contact({app_id: SENDER})
    assert harness.deliver(app_id, SLACK_EVENT, SLACK_HEADERS).status_code == 200


def test_a_host_outside_the_allowlist_is_refused_at_call_time(make_app, remote):
    # Same database, restarted with an allowlist that no longer has the App's host.
    restricted = Harness(make_app(plugins=[orqo_remote],
                                  REMOTE_ADAPTER_ALLOWED_HOSTS=["other.example"]))
    calls = len(remote.mock.request_history)
    response = restricted.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert_adapter_error(restricted, response, "not in REMOTE_ADAPTER_ALLOWED_HOSTS")
    assert len(remote.mock.request_history) == calls


# --- deliveries ----------------------------------------------------------------------------

def test_a_delivery_is_verified_and_parsed_remotely_and_routed(remote):
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    entry = remote.ledger()[0]
    assert entry["outcome"] == "accepted"
    assert entry["messages"][0]["dedupe_key"] == "Ev0PV52K21"
    assert entry["messages"][0]["contact_id"] == remote.contact_id

    verify, parse = [r for r in remote.mock.request_history if r.method == "POST"]
    assert (verify.path, parse.path) == ("/verify-webhook", "/parse-inbound")
    sent = verify.json()
    assert sent == parse.json()
    assert StageRequestSchema().load(sent).body == SLACK_EVENT
    assert sent_body(verify) == SLACK_EVENT
    assert sent["credentials"] == {"signing_secret": CREDENTIALS["SLACK_SIGNING_SECRET"],
                                   "bot_token": CREDENTIALS["SLACK_BOT_TOKEN"]}
    assert sent["config"] == {}
    assert sent["previous_credentials"] == []
    assert sent["method"] == "POST" and sent["app_id"] == remote.app_id
    assert ["X-Slack-Signature", SLACK_HEADERS["X-Slack-Signature"]] in sent["headers"]
    assert verify.headers["Content-Type"] == "application/json"
    assert verify.stream is True


def test_adapter_config_is_sent_as_the_stage_config(make_app, adapter_service):
    harness = Harness(make_app(plugins=[orqo_remote]))
    app_id = harness.add_app("remote", CREDENTIALS, {
        "url": URL, "adapter_config": '{"timestamp_window": 120, "bot_user_id": "U0BOT"}'})
    harness.deliver(app_id, SLACK_EVENT, SLACK_HEADERS)
    verify = [r for r in adapter_service.request_history if r.path == "/verify-webhook"][0]
    assert verify.json()["config"] == {"timestamp_window": 120, "bot_user_id": "U0BOT"}


def test_a_rejection_keeps_its_status_and_reason_with_secrets_blanked(remote):
    reason = f"X-Slack-Signature does not match (key {CREDENTIALS['SLACK_SIGNING_SECRET']})"
    remote.mock.post(f"{URL}/verify-webhook",
                     json={"accepted": False, "reason": reason, "status": 403})
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert response.status_code == 403
    entry = remote.ledger()[0]
    assert entry["outcome"] == "rejected_signature"
    assert entry["reason"] == "X-Slack-Signature does not match (key [redacted])"
    assert "/parse-inbound" not in [r.path for r in remote.mock.request_history]


def test_a_challenge_is_echoed(remote):
    remote.mock.post(f"{URL}/parse-inbound", json={
        "messages": [], "reason": "", "meta": {},
        "challenge": {"body": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                      "status": 200, "content_type": "text/plain"}})
    body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
                       "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
                      ).encode()
    response = remote.deliver(remote.app_id, body, SLACK_HEADERS)
    assert response.status_code == 200
    assert response.data == b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    assert response.content_type.startswith("text/plain")
    assert remote.ledger()[0]["outcome"] == "challenge"


def test_nothing_to_route_is_accepted_with_the_adapters_reason(remote):
    remote.mock.post(f"{URL}/parse-inbound", json={"messages": [], "reason": "bot message"})
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert response.status_code == 200
    assert remote.ledger()[0]["reason"] == "bot message"


def test_a_400_in_the_error_shape_from_parse_is_malformed(remote):
    remote.mock.post(f"{URL}/parse-inbound", status_code=400, json={"error": {
        "code": "malformed", "message": "the body is not valid JSON", "details": {}}})
    response = remote.deliver(remote.app_id, b"payload=%7B%22type%22", SLACK_HEADERS)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed"
    entry = remote.ledger()[0]
    assert (entry["outcome"], entry["reason"]) == ("malformed", "the body is not valid JSON")


def test_the_same_delivery_twice_is_routed_once(remote):
    first = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    second = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert first.json["messages"][0]["outcome"] == "routed"
    assert second.json["messages"][0]["outcome"] == "duplicate"


def test_rotated_credentials_are_mapped_too(remote):
    old_secret = CREDENTIALS["SLACK_SIGNING_SECRET"]

    def only_the_old_secret(request, context):
        accepted = request.json()["credentials"]["signing_secret"] == old_secret
        return {"accepted": accepted, "reason": "" if accepted else "signature mismatch"}

    with remote.app.app_context():
        rotate_credentials(remote.app_id, {"SLACK_SIGNING_SECRET": "a-new-signing-secret"}, 3600)
    remote.mock.post(f"{URL}/verify-webhook", json=only_the_old_secret)
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert response.status_code == 200
    verifies = [r.json() for r in remote.mock.request_history if r.path == "/verify-webhook"]
    assert [v["credentials"]["signing_secret"] for v in verifies] == [
        "a-new-signing-secret", old_secret]
    assert all(v["previous_credentials"] == [] for v in verifies)


# --- every way the adapter can fail: 503, adapter_error, nothing routed --------------------

# Not the shape of a message at all (the limits of a well-shaped one are orqo's own check,
# the same for every adapter: see the test after this one).
INVALID_MESSAGE = {**PARSE_RESULT["messages"][0], "dedupe_key": ["not", "a", "string"]}

FAILURES = [
    ("verify", {"exc": requests.exceptions.ReadTimeout}, UNREACHABLE),
    ("parse", {"exc": requests.exceptions.ReadTimeout}, UNREACHABLE),
    ("verify", {"exc": requests.exceptions.ConnectTimeout}, UNREACHABLE),
    ("verify", {"exc": requests.exceptions.ConnectionError(
        "HTTPSConnectionPool: Max retries exceeded (Caused by NewConnectionError("
        "'Failed to establish a new connection: [Errno 111] Connection refused'))")},
     UNREACHABLE),
    ("parse", {"exc": requests.exceptions.ConnectionError}, UNREACHABLE),
    ("verify", {"status_code": 500, "json": {"error": {"code": "internal_error",
                                                       "message": "boom", "details": {}}}},
     "answered HTTP 500 (internal_error)"),
    ("parse", {"status_code": 502, "text": "<html><h1>502 Bad Gateway</h1></html>"},
     "answered HTTP 502"),
    ("parse", {"status_code": 400, "text": "Bad Request"}, "answered HTTP 400"),
    ("verify", {"text": "OK"}, "not valid JSON"),
    ("parse", {"content": b"\xff\xfe{not json"}, "not valid JSON"),
    ("verify", {"json": {"ok": True}}, "not a valid verdict"),
    ("verify", {"json": {"accepted": "yes"}}, "not a valid verdict"),
    ("verify", {"json": {"accepted": False, "status": 200}}, "not a valid verdict"),
    ("verify", {"json": [{"accepted": True}]}, "not a valid verdict"),
    ("parse", {"json": {"messages": [INVALID_MESSAGE]}}, "not a valid parse result"),
    ("parse", {"json": {"messages": "hello"}}, "not a valid parse result"),
    ("parse", {"json": {**PARSE_RESULT, "challenge": {"body": "x"}}}, "not a valid parse result"),
    ("verify", {"content": b'{"accepted": true, "reason": "' + b"x" * (1024 * 1024) + b'"}'},
     "over the limit of 1048576 bytes"),
    ("parse", {"content": b"[" * 10, "headers": {"Content-Length": str(5 * 1024 * 1024)}},
     "is 5242880 bytes, over the limit"),
    ("verify", {"status_code": 307, "headers": {"Location": "https://evil.example/verify"}},
     "does not follow"),
    ("parse", {"status_code": 301, "headers": {"Location": "http://169.254.169.254/"}},
     "does not follow"),
]


@pytest.mark.parametrize("stage,answer,reason", FAILURES)
def test_a_failing_adapter_is_adapter_error_503_and_nothing_is_routed(remote, stage, answer,
                                                                      reason):
    path = {"verify": "/verify-webhook", "parse": "/parse-inbound"}[stage]
    remote.mock.post(URL + path, **answer)
    remote.mock.register_uri(ANY, "https://evil.example/verify", json={})
    remote.mock.register_uri(ANY, "http://169.254.169.254/", json={})
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert_adapter_error(remote, response, reason)
    assert URL in remote.ledger()[0]["reason"]
    hosts = {r.hostname for r in remote.mock.request_history}
    assert hosts == {"slack-adapter.example"}  # no redirect was followed


def test_a_message_past_orqos_limits_is_400_as_from_any_adapter(remote):
    remote.mock.post(f"{URL}/parse-inbound", json={"messages": [
        {**PARSE_RESULT["messages"][0], "sender_id": "U" * 513}]})
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed"
    assert "sender_id: longer than 512 characters" in remote.ledger()[0]["reason"]


def test_the_budget_is_shared_by_both_calls(remote, monkeypatch):
    now = [time.time()]
    monkeypatch.setattr(orqo_remote.client, "clock", lambda: now[0])

    def slow_verify(request, context):
        now[0] = request.json()["received_at"] + 1.75  # 1.75 s of the 2.5 s budget gone
        return {"accepted": True}

    remote.mock.post(f"{URL}/verify-webhook", json=slow_verify)
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert response.status_code == 200
    verify, parse = [r for r in remote.mock.request_history if r.method == "POST"]
    assert verify.timeout == (1.0, 2.5)
    assert parse.timeout == (pytest.approx(0.75), pytest.approx(0.75))  # what is left


def test_a_used_up_budget_is_adapter_error_without_calling_parse(remote, monkeypatch):
    now = [time.time()]
    monkeypatch.setattr(orqo_remote.client, "clock", lambda: now[0])

    def slow_verify(request, context):
        now[0] = request.json()["received_at"] + 2.495  # answered just within the budget
        return {"accepted": True}

    remote.mock.post(f"{URL}/verify-webhook", json=slow_verify)
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert_adapter_error(remote, response, "budget of 2.5 s is used up")
    assert [r.path for r in remote.mock.request_history if r.method == "POST"] == [
        "/verify-webhook"]


def test_an_answer_after_the_budget_is_cut_off(remote, monkeypatch):
    now = [time.time()]
    monkeypatch.setattr(orqo_remote.client, "clock", lambda: now[0])

    def too_slow_verify(request, context):
        now[0] = request.json()["received_at"] + 2.6
        return {"accepted": True}

    remote.mock.post(f"{URL}/verify-webhook", json=too_slow_verify)
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert_adapter_error(remote, response, UNREACHABLE)


def test_a_body_still_arriving_after_the_budget_is_cut_off(remote, monkeypatch):
    now = [time.time()]
    monkeypatch.setattr(orqo_remote.client, "clock", lambda: now[0])

    class Trickle(io.RawIOBase):
        """A body whose every read comes just inside the read timeout."""

        def __init__(self):
            self.chunks = [b'{"accepted": ', b"true", b"}"]

        def readable(self):
            return True

        def readinto(self, buffer):
            if not self.chunks:
                return 0
            now[0] += 1.0
            chunk = self.chunks.pop(0)
            buffer[:len(chunk)] = chunk
            return len(chunk)

    remote.mock.post(f"{URL}/verify-webhook", body=Trickle())
    response = remote.deliver(remote.app_id, SLACK_EVENT, SLACK_HEADERS)
    assert_adapter_error(remote, response, UNREACHABLE)


# --- orqo adapters check -------------------------------------------------------------------

def check(harness, app_id):
    result = harness.app.test_cli_runner().invoke(args=["adapters", "check", "--", app_id])
    return result.exit_code, json.loads(result.stdout or result.stderr)


def test_adapters_check_shows_manifest_and_health(remote):
    code, report = check(remote, remote.app_id)
    assert code == 0, report
    assert report["ready"] is True and report["errors"] == []
    assert report["manifest"]["name"] == "slack"
    assert report["manifest"]["credentials"][0]["maps_to"] == "signing_secret"
    assert report["health"] == HEALTH
    assert report["url"] == URL and report["app_id"] == remote.app_id
    for secret in CREDENTIALS.values():
        assert secret not in json.dumps(report)


@pytest.mark.parametrize("answer,message", [
    ({"json": {**HEALTH, "status": "starting"}}, "not ready (HTTP 200, status 'starting')"),
    ({"json": {**HEALTH, "status": "Ready"}}, "status 'Ready'"),
    ({"status_code": 503, "json": {**HEALTH, "status": "degraded"}}, "HTTP 503"),
    ({"json": without(HEALTH, "version")}, "version"),
    ({"json": {**HEALTH, "version": ""}}, "version"),
    ({"exc": requests.exceptions.ReadTimeout}, UNREACHABLE),
    ({"exc": requests.exceptions.ConnectionError}, UNREACHABLE),
    ({"text": "ready"}, "not valid JSON"),
])
def test_adapters_check_fails_clearly_when_the_adapter_is_not_ready(remote, answer, message):
    remote.mock.get(f"{URL}/health", **answer)
    code, output = check(remote, remote.app_id)
    assert code == 1
    assert output["error"]["code"] == "adapter_not_ready"
    assert message in output["error"]["message"]
    assert output["error"]["details"]["ready"] is False
    assert output["error"]["details"]["manifest"]["name"] == "slack"


def test_adapters_check_sees_a_manifest_that_changed(remote):
    changed = json.loads(json.dumps(MANIFEST))
    changed["credentials"][0]["maps_to"] = "SLACK_SIGNING_SECRET"
    changed["credentials"].append({"key": "SLACK_APP_TOKEN", "type": "secret",
                                   "label": "App-level token", "maps_to": "app_token"})
    remote.mock.get(f"{URL}/manifest.json", json=changed)
    code, output = check(remote, remote.app_id)
    assert code == 1
    assert "SLACK_APP_TOKEN" in output["error"]["message"]
    assert "credential names changed" in output["error"]["message"]


def test_adapters_check_refuses_an_app_that_is_not_remote(make_app, adapter_service):
    import orqo_custom

    harness = Harness(make_app(plugins=[orqo_remote, orqo_custom]))
    app_id = harness.add_app("custom", {"signing_secret": "s3cret-long-enough-for-hmac"})
    code, output = check(harness, app_id)
    assert code == 1
    assert output["error"]["code"] == "not_remote"
    code, output = check(harness, "NoSuchApp")
    assert code == 1 and output["error"]["code"] == "not_found"
