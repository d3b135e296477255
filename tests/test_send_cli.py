"""``orqo send`` (signed test deliveries made by the adapters), ``orqo adapters show`` and
``GET /api/v1/adapters``."""
from __future__ import annotations

import base64
import json
import re
import time
from urllib.parse import urlsplit

import orqo_custom
import orqo_slack
import orqo_telegram
import orqo_whatsapp
import pytest
import requests

from orqo.adapters import SampleDeliveryError
from orqo.adapters import describe_settings
from orqo.stages import StageRequest
from orqo.testing import Harness
from tests.plugins import fake_adapter

PLUGINS = [orqo_slack, orqo_whatsapp, orqo_telegram, orqo_custom, fake_adapter]
WHSEC = "whsec_" + base64.b64encode(b"k" * 32).decode()
#: adapter, credentials, config, a sender, a thread and the thread parse reports for it.
SAMPLES = {
    "slack": ("slack", {"SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5"}, {},
              "T0ACME123:U0ADA0001", "1717171717.000200", "1717171717.000200"),
    "whatsapp": ("whatsapp", {"WHATSAPP_APP_SECRET": "meta-app-secret-0123456789",
                              "WHATSAPP_VERIFY_TOKEN": "verify"}, {},
                 "4915112345678", "wamid.HBgLNDkxNTE=", None),
    "telegram": ("telegram", {"TELEGRAM_WEBHOOK_SECRET": "tg-secret_1"}, {},
                 "123456789", "123456789:42", "123456789:42"),
    "custom": ("custom", {"signing_secret": "demo-signing-secret-2026"}, {},
               "ada", "ops-42", "ops-42"),
    "custom-standard-webhooks": (
        "custom", {"signing_secret": WHSEC},
        {"mode": "standard-webhooks", "sender_pointer": "/from/id", "text_pointer": "/body"},
        "ada", None, None),
}


@pytest.fixture
def harness(make_app):
    return Harness(make_app(plugins=PLUGINS))


def settings(harness, app_id):
    """The App's adapter, validated credentials and config."""
    from orqo.extensions import db
    from orqo.models import App

    with harness.app.app_context():
        record = db.session.get(App, app_id)
        return (harness.app.extensions["orqo"].adapters[record.adapter],
                dict(record.credentials), dict(record.config))


def sample(harness, app_id, sender, text, thread=None):
    adapter, credentials, config = settings(harness, app_id)
    return adapter.sample_delivery(credentials, config, sender, text, thread)


def parsed(harness, app_id, body, headers):
    """The one message the App's adapter makes of a delivery it verified."""
    adapter, credentials, config = settings(harness, app_id)
    request = StageRequest(app_id, adapter.platform, "POST", f"/api/v1/webhooks/{app_id}", [],
                           [[name, value] for name, value in headers.items()], body,
                           credentials, config, time.time())
    assert adapter.verify(request).accepted
    [message] = adapter.parse(request).messages
    return message


@pytest.mark.parametrize("case", sorted(SAMPLES))
def test_each_adapters_sample_is_verified_parsed_and_new_every_time(harness, case):
    adapter, credentials, config, sender, thread, parsed_thread = SAMPLES[case]
    app_id = harness.add_app(adapter, credentials, config)
    harness.add_contact({app_id: sender})
    for _ in range(2):  # a second sample is a new message, not a duplicate
        body, headers = sample(harness, app_id, sender, "Grüße 👋", thread)
        answer = harness.deliver(app_id, body, headers)
        assert answer.status_code == 200, answer.get_json()
        assert answer.get_json()["messages"] == [{"handler": "doorkeeper", "outcome": "routed"}]
    keys = {delivery["messages"][0]["dedupe_key"] for delivery in harness.ledger(app_id)}
    assert len(keys) == 2
    message = parsed(harness, app_id, body, headers)
    assert (message.sender_id, message.text, message.thread_id) == (sender, "Grüße 👋",
                                                                  parsed_thread)
    if adapter == "whatsapp":
        assert message.reply_to == thread


@pytest.mark.parametrize("adapter,sender,thread", [
    ("slack", "U0ADA0001", None), ("slack", "T0ACME123:U0ADA0001", "yesterday"),
    ("whatsapp", "+49 151", None), ("telegram", "ada", None),
    ("telegram", "123456789", "987:42"), ("custom", "ada", None)])
def test_a_sender_or_thread_the_platform_could_not_send_is_refused(harness, adapter, sender,
                                                                   thread):
    _, credentials, _, *_ = SAMPLES[adapter]
    config = {"sender_pointer": "/text/who"} if adapter == "custom" else {}  # two in one place
    app_id = harness.add_app(adapter, credentials, config)
    with pytest.raises(SampleDeliveryError):
        sample(harness, app_id, sender, "hi", thread)


def test_an_adapter_without_samples_says_so(harness):
    app_id = harness.add_app("fake", {"token": "t"})
    with pytest.raises(SampleDeliveryError, match="the fake adapter cannot make sample"):
        sample(harness, app_id, "ada", "hi")


# --- orqo send through Click's runner, its POST answered by the app itself ---------------------


@pytest.fixture
def forwarded(harness, requests_mock):
    """Every POST to http://127.0.0.1:8000 answered by the test app, as a real orqo would."""
    client = harness.app.test_client()

    def answer(request, context):
        response = client.post(urlsplit(request.url).path, data=request.body,
                               headers=dict(request.headers))
        context.status_code = response.status_code
        context.reason = response.status.partition(" ")[2]
        context.headers["Content-Type"] = response.content_type
        return response.get_data()

    requests_mock.post(re.compile(r"http://127\.0\.0\.1:8000/"), content=answer)
    return harness


def test_send_posts_a_signed_delivery_and_prints_the_answer(forwarded):
    runner = forwarded.app.test_cli_runner()
    app_id = forwarded.add_app("custom", {"signing_secret": "demo-signing-secret-2026"})
    forwarded.add_contact({app_id: "ada"})
    for _ in range(2):
        result = runner.invoke(args=["send", app_id, "--sender", "ada", "--text", "hello"])
        assert result.exit_code == 0, result.output
        status, answer = result.output.splitlines()
        assert status == "200 OK"
        assert json.loads(answer)["messages"] == [{"handler": "doorkeeper", "outcome": "routed"}]
    result = runner.invoke(args=["send", app_id, "--sender", "bob", "--text", "hi", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["url"] == f"http://127.0.0.1:8000/api/v1/webhooks/{app_id}"
    assert shown["status"] == 200
    assert shown["answer"]["messages"][0]["outcome"] == "unknown_sender"


def test_send_uses_the_public_base_url_setting(make_app, requests_mock):
    app = make_app(plugins=PLUGINS, PUBLIC_BASE_URL="http://127.0.0.1:8123/orqo/")
    app_id = Harness(app).add_app("custom", {"signing_secret": "demo-signing-secret-2026"})
    requests_mock.post(f"http://127.0.0.1:8123/orqo/api/v1/webhooks/{app_id}", status_code=200,
                       json={"outcome": "accepted"})
    result = app.test_cli_runner().invoke(args=["send", app_id, "--sender", "a", "--text", "t"])
    assert result.exit_code == 0, result.output
    sent = requests_mock.last_request
    assert sent.headers["X-Signature-256"].startswith("sha256=")
    assert json.loads(sent.body)["text"] == "t"


def test_send_exits_1_with_the_answer_when_orqo_refuses(harness, requests_mock):
    app_id = harness.add_app("custom", {"signing_secret": "demo-signing-secret-2026"})
    requests_mock.post(re.compile("http://127.0.0.1:9/"), status_code=401, reason="UNAUTHORIZED",
                       json={"error": {"code": "rejected_signature"}})
    result = harness.app.test_cli_runner().invoke(
        args=["send", app_id, "--sender", "ada", "--text", "hi", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "401 UNAUTHORIZED"
    assert "rejected_signature" in result.output


@pytest.mark.parametrize("args,code", [
    (["nope"], "not_found"),
    (["FAKE", "--url", "http://127.0.0.1:9"], "cannot_make_sample"),
    (["SLACK"], "cannot_make_sample"),
    (["CUSTOM", "--url", "http://127.0.0.1:9"], "orqo_unreachable"),
])
def test_send_fails_in_one_line(harness, requests_mock, args, code):
    ids = {"FAKE": harness.add_app("fake", {"token": "t"}),
           "SLACK": harness.add_app("slack", SAMPLES["slack"][1]),
           "CUSTOM": harness.add_app("custom", {"signing_secret": "demo-signing-secret-2026"})}
    requests_mock.post(re.compile("http://127.0.0.1:9/"), exc=requests.ConnectionError)
    args = [ids.get(each, each) for each in args]
    result = harness.app.test_cli_runner().invoke(
        args=["send", *args, "--sender", "ada", "--text", "hi"])
    assert result.exit_code == 1
    [line] = result.output.splitlines()
    assert json.loads(line)["error"]["code"] == code
    assert "Traceback" not in result.output and "demo-signing-secret" not in result.output


def test_send_refuses_a_base_url_that_is_not_one(harness):
    app_id = harness.add_app("custom", {"signing_secret": "demo-signing-secret-2026"})
    result = harness.app.test_cli_runner().invoke(
        args=["send", app_id, "--sender", "a", "--text", "t", "--url", "127.0.0.1:8000"])
    assert result.exit_code == 2 and "--url" in result.output


# --- orqo adapters show and GET /api/v1/adapters ------------------------------------------------


def test_adapters_show_prints_each_field(harness):
    runner = harness.app.test_cli_runner()
    result = runner.invoke(args=["adapters", "show", "slack"])
    assert result.exit_code == 0, result.output
    assert "SLACK_SIGNING_SECRET" in result.output and "string; required" in result.output
    assert "timestamp_window" in result.output and "default 300" in result.output
    assert "Signing Secret" in result.output  # the field's description
    shown = json.loads(runner.invoke(args=["adapters", "show", "custom", "--json"]).output)
    mode = next(field for field in shown["config"] if field["name"] == "mode")
    assert mode == {"name": "mode", "type": "string", "required": False, "default": "hmac",
                    "choices": ["hmac", "standard-webhooks"], "description": mode["description"]}
    assert mode["description"] and shown["samples"] is True and shown["sends"] is True
    unknown = runner.invoke(args=["adapters", "show", "nope"])
    assert unknown.exit_code == 1
    assert json.loads(unknown.output)["error"]["details"]["installed"] == sorted(
        ["slack", "whatsapp", "telegram", "custom", "fake"])


def test_first_party_adapters_describe_every_field():
    for module, name in ((orqo_slack, "SlackAdapter"), (orqo_whatsapp, "WhatsAppAdapter"),
                         (orqo_telegram, "TelegramAdapter"), (orqo_custom, "CustomAdapter")):
        described = describe_settings(getattr(module, name))
        for field in described["credentials"] + described["config"]:
            assert field["description"], (name, field["name"])
        assert described["samples"] is True


def test_api_lists_the_adapters_for_admins_only(harness):
    from orqo.services.tokens import issue_token

    with harness.app.app_context():
        admin = issue_token("ops", ["admin"])[1]
        agent = issue_token("agent", ["agent"])[1]
    answer = harness.client.get("/api/v1/adapters", headers={"Authorization": f"Bearer {admin}"})
    assert answer.status_code == 200
    items = answer.get_json()["items"]
    assert [item["platform"] for item in items] == sorted(
        ["slack", "whatsapp", "telegram", "custom", "fake"])
    with harness.app.app_context():
        slack = describe_settings(harness.app.extensions["orqo"].adapters["slack"])
    assert next(item for item in items if item["platform"] == "slack") == slack
    assert harness.client.get("/api/v1/adapters").status_code == 401
    assert harness.client.get("/api/v1/adapters",
                              headers={"Authorization": f"Bearer {agent}"}).status_code == 403


# --- one real process: orqo send against gunicorn -------------------------------------------------


def test_send_to_a_real_server(make_server):
    server = make_server(workers=2)
    custom = server.cli_json("apps", "create", "--name", "demo", "--adapter", "custom",
                             "--credential", "signing_secret=demo-signing-secret-2026")
    secret = SAMPLES["slack"][1]["SLACK_SIGNING_SECRET"]
    slack = server.cli_json("apps", "create", "--name", "slack", "--adapter", "slack",
                            "--credential", f"SLACK_SIGNING_SECRET={secret}")
    server.cli_json("contacts", "create", "--name", "Ada", "--channel", f"{custom['id']}=ada",
                    "--channel", f"{slack['id']}=T0ACME123:U0ADA0001")
    for app_id, sender in ((custom["id"], "ada"), (custom["id"], "ada"),
                           (slack["id"], "T0ACME123:U0ADA0001")):
        result = server.cli("send", app_id, "--sender", sender, "--text", "hello",
                            "--url", server.url)
        status, answer = result.stdout.splitlines()
        assert status == "200 OK"
        assert json.loads(answer)["messages"] == [{"handler": "doorkeeper", "outcome": "routed"}]
    refused = server.cli("send", "nope", "--sender", "ada", "--text", "hi", "--url", server.url,
                         check=False)
    assert refused.returncode == 1
    assert json.loads(refused.stderr)["error"]["code"] == "not_found"
    assert "demo-signing-secret-2026" not in server.log()
