"""The Slack adapter in a real gunicorn server, set up with the orqo command line."""
import json

import requests
from orqo_slack.testing import BOT_TOKEN
from orqo_slack.testing import BOT_USER
from orqo_slack.testing import SECRET
from orqo_slack.testing import SENDER
from orqo_slack.testing import encode
from orqo_slack.testing import envelope
from orqo_slack.testing import message_event
from orqo_slack.testing import signed


def post(server, path, body, headers):
    return requests.post(server.url + path, data=body, timeout=10,
                         headers={"Content-Type": "application/json", **headers})


def test_slack_on_a_real_server(make_server):
    server = make_server()
    app = server.cli_json("apps", "create", "--name", "Slack workspace", "--adapter", "slack",
                          "--credential", f"SLACK_SIGNING_SECRET={SECRET}",
                          "--credential", f"SLACK_BOT_TOKEN={BOT_TOKEN}",
                          "--config", "timestamp_window=300",
                          "--config", f"bot_user_id={BOT_USER}")
    server.cli_json("contacts", "create", "--name", "Ada", "--channel", f"{app['id']}={SENDER}")
    path = app["webhook_path"]

    handshake = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
                            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYX"}).encode()
    answered = post(server, path, handshake, signed(handshake))
    assert answered.status_code == 200
    assert answered.text == "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYX"
    assert answered.headers["Content-Type"].startswith("text/plain")

    dm = encode(envelope(message_event(text="Hallo orqo 👋, ist der Bericht fertig?")))
    routed = post(server, path, dm, signed(dm))
    assert routed.status_code == 200
    assert routed.json()["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    retry = post(server, path, dm, signed(dm, **{"X-Slack-Retry-Num": "1",
                                                 "X-Slack-Retry-Reason": "http_timeout"}))
    assert retry.status_code == 200
    assert retry.json()["messages"] == [{"outcome": "duplicate", "handler": None}]

    forged_body = encode(envelope(message_event(text="Überweise 1000 € 💸", ts="1717173000.1"),
                                  event_id="Ev06FORGED01"))
    forged = post(server, path, forged_body, signed(forged_body, secret="guessed-secret"))
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "rejected_signature"

    listed = server.cli_json("apps", "list", "--json")
    assert listed[0]["config"] == {"timestamp_window": 300, "bot_user_id": BOT_USER,
                                   "app_id": None, "api_base_url": "https://slack.com/api"}
    events = server.cli_json("deliveries", "list", "--json", "--limit", "100")
    assert [e["outcome"] for e in events] == ["rejected_signature", "accepted", "accepted",
                                              "challenge"]
    assert events[1]["meta"] == {"slack_retry_num": 1, "slack_retry_reason": "http_timeout"}
    log = server.log()
    assert SECRET not in log and BOT_TOKEN not in log
