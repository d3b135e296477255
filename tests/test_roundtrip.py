"""Conversations both ways with real processes (issue 16), per platform: real gunicorn, a real
``orqo worker`` process, and a local server standing in for the platform's API
(:class:`orqo.testing.platform.FakePlatform`, on loopback).

The round trip: a Contact's DM reaches Doorkeeper; the agent claims it and replies in its
thread (or to it) with ``await_reply``; the worker sends the reply through the platform's API;
the Contact answers that reply, and the answer lands in the waitbox bound to the question,
although the Contact has an older open waitbox, which a message pointing at nothing would
have taken.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import requests

from orqo.testing.platform import FakePlatform
from orqo.testing.signers import hmac_headers
from orqo.testing.signers import slack_headers
from orqo.testing.signers import verify_standard_webhooks

SLACK_SECRET = "slack-signing-secret-for-tests"
WHATSAPP_SECRET = "whatsapp-app-secret-for-tests"
TELEGRAM_SECRET = "telegram-webhook-secret"
CUSTOM_SECRET = "custom-signing-secret-for-tests"
REPLY_SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PHONE_NUMBER_ID = "106540352242922"
BOT_TOKEN = "123456:ABC-DEF_ghi"


@dataclass
class Platform:
    """How one platform's App is set up, signs its deliveries and is answered."""

    adapter: str
    credentials: dict
    config: dict
    sender_id: str
    send_path: str

    def app_config(self, base_url: str) -> dict:
        return {**self.config, "api_base_url": base_url}

    def inbound(self, number: int, text: str, reply_to: str | None = None
                ) -> tuple[bytes, dict]:
        raise NotImplementedError

    def sent(self, number: int) -> dict:
        """The platform's answer to a sent message, whose reply key is :meth:`sent_key`."""
        raise NotImplementedError

    def sent_key(self, number: int) -> str:
        raise NotImplementedError

    def check_reply(self, request, inbound_number: int) -> None:
        """The request the worker sent replies to inbound message ``inbound_number``."""
        raise NotImplementedError


class Slack(Platform):
    def inbound(self, number, text, reply_to=None):
        event = {"type": "message", "channel": "D42", "channel_type": "im", "user": "U7",
                 "text": text, "ts": f"1700000000.{number:06d}"}
        if reply_to:
            event["thread_ts"] = reply_to
        body = json.dumps({"type": "event_callback", "team_id": "T1", "api_app_id": "A1",
                           "event_id": f"Ev{number}", "event": event}).encode()
        return body, slack_headers(SLACK_SECRET, body)

    def sent(self, number):
        return {"ok": True, "channel": "D42", "ts": f"1700000100.{number:06d}",
                "message": {"type": "message", "text": "?", "ts": f"1700000100.{number:06d}"}}

    def sent_key(self, number):
        return "1700000000.000001"  # the thread's root: the DM the agent replied to

    def check_reply(self, request, inbound_number):
        assert request.headers["Authorization"] == "Bearer xoxb-test-token"
        assert request.json()["channel"] == "D42"
        assert request.json()["thread_ts"] == f"1700000000.{inbound_number:06d}"


class WhatsApp(Platform):
    def inbound(self, number, text, reply_to=None):
        from orqo_whatsapp import sign
        from orqo_whatsapp.testing import notification
        from orqo_whatsapp.testing import text_message

        fields = {"context": {"from": "15550783881", "id": reply_to}} if reply_to else {}
        body = json.dumps(notification([text_message("4915112345678", f"wamid.IN{number}",
                                                     text, **fields)])).encode()
        return body, {"X-Hub-Signature-256": sign(WHATSAPP_SECRET, body),
                      "Content-Type": "application/json"}

    def sent(self, number):
        return {"messaging_product": "whatsapp",
                "contacts": [{"input": "4915112345678", "wa_id": "4915112345678"}],
                "messages": [{"id": f"wamid.OUT{number}"}]}

    def sent_key(self, number):
        return f"wamid.OUT{number}"

    def check_reply(self, request, inbound_number):
        assert request.headers["Authorization"] == "Bearer whatsapp-access-token"
        assert request.json()["to"] == "4915112345678"
        assert request.json()["context"] == {"message_id": f"wamid.IN{inbound_number}"}


class Telegram(Platform):
    def inbound(self, number, text, reply_to=None):
        message = {"message_id": number, "date": 1700000000 + number, "text": text,
                   "chat": {"id": 4242, "type": "private", "first_name": "Ada"},
                   "from": {"id": 4242, "is_bot": False, "first_name": "Ada"}}
        if reply_to:
            message["reply_to_message"] = {
                "message_id": int(reply_to.split(":")[1]), "date": 1700000000, "text": "?",
                "chat": {"id": 4242, "type": "private", "first_name": "Ada"},
                "from": {"id": 123456, "is_bot": True, "first_name": "orqo"}}
        body = json.dumps({"update_id": 900 + number, "message": message}).encode()
        return body, {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET,
                      "Content-Type": "application/json"}

    def sent(self, number):
        return {"ok": True, "result": {"message_id": 500 + number, "date": 1700000300,
                                       "chat": {"id": 4242, "type": "private"},
                                       "from": {"id": 123456, "is_bot": True,
                                                "first_name": "orqo"}, "text": "?"}}

    def sent_key(self, number):
        return f"4242:{500 + number}"

    def check_reply(self, request, inbound_number):
        assert request.json()["chat_id"] in (4242, "4242")
        assert request.json()["reply_parameters"]["message_id"] == inbound_number


class Custom(Platform):
    def app_config(self, base_url):
        return {**self.config, "reply_url": f"{base_url}{self.send_path}"}

    def inbound(self, number, text, reply_to=None):
        document = {"sender": "ada", "id": f"m{number}", "text": text}
        if reply_to:
            document["reply_to"] = reply_to
        body = json.dumps(document).encode()
        return body, {**hmac_headers(CUSTOM_SECRET, body), "Content-Type": "application/json"}

    def sent(self, number):
        return {"id": f"out-{number}"}

    def sent_key(self, number):
        return f"out-{number}"

    def check_reply(self, request, inbound_number):
        payload = verify_standard_webhooks(REPLY_SECRET, request.headers, request.body)
        assert payload["in_reply_to"]["platform_message_id"] == f"m{inbound_number}"
        assert payload["recipient"] == "ada"


PLATFORMS = {
    "slack": Slack("slack", {"SLACK_SIGNING_SECRET": SLACK_SECRET,
                             "SLACK_BOT_TOKEN": "xoxb-test-token"}, {}, "T1:U7",
                   "/chat.postMessage"),
    "whatsapp": WhatsApp("whatsapp", {"WHATSAPP_APP_SECRET": WHATSAPP_SECRET,
                                      "WHATSAPP_VERIFY_TOKEN": "verify-me",
                                      "WHATSAPP_ACCESS_TOKEN": "whatsapp-access-token",
                                      "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID},
                         {"api_version": "v25.0"}, "4915112345678",
                         f"/v25.0/{PHONE_NUMBER_ID}/messages"),
    "telegram": Telegram("telegram", {"TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
                                      "TELEGRAM_BOT_TOKEN": BOT_TOKEN}, {}, "4242",
                         f"/bot{BOT_TOKEN}/sendMessage"),
    "custom": Custom("custom", {"signing_secret": CUSTOM_SECRET, "reply_secret": REPLY_SECRET},
                     {}, "ada", "/reply"),
}


class Agent:
    """The agent runtime: HTTP calls to orqo's API with an agent token."""

    def __init__(self, server, token: str):
        self.server = server
        self.auth = {"Authorization": f"Bearer {token}"}

    def call(self, method, path, expected=200, **kwargs):
        response = requests.request(method, f"{self.server.url}{path}", headers=self.auth,
                                    timeout=10, **kwargs)
        assert response.status_code == expected, (response.status_code, response.text)
        return response.json()


def deliver(server, app_id, platform, number, text, reply_to=None):
    body, headers = platform.inbound(number, text, reply_to)
    response = requests.post(f"{server.url}/api/v1/webhooks/{app_id}", data=body,
                             headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def options(flag: str, values: dict) -> list[str]:
    return [item for key, value in values.items() for item in (flag, f"{key}={value}")]


@pytest.mark.parametrize("name", sorted(PLATFORMS))
def test_inbound_reply_and_answer_round_trip(name, make_server):
    platform = PLATFORMS[name]
    with FakePlatform() as api:
        api.always(platform.send_path, 200, json=platform.sent(1))
        server = make_server(workers=2)
        app = server.cli_json("apps", "create", "--name", name, "--adapter", platform.adapter,
                              *options("--credential", platform.credentials),
                              *options("--config", platform.app_config(api.url)))
        contact = server.cli_json("contacts", "create", "--name", "Ada", "--channel",
                                  f"{app['id']}={platform.sender_id}")
        agent = Agent(server, server.cli_json("tokens", "create", "--name", "runtime",
                                              "--scope", "agent")["token"])

        # 1. The Contact's DM reaches Doorkeeper; the agent claims it.
        deliver(server, app["id"], platform, 1, "Can we move our call?")
        claimed = agent.call("POST", "/api/v1/doorkeeper/claims",
                             json={"claimant": "runtime", "limit": 10})["messages"]
        assert [entry["message"]["text"] for entry in claimed] == ["Can we move our call?"]
        inbound = claimed[0]["message"]

        # 2. An older question is still open; the agent replies and awaits the answer.
        older = agent.call("POST", "/api/v1/waitboxes", 201, json={
            "app_id": app["id"], "contact_id": contact["id"], "expires_in": 600,
            "reference": "an older question"})
        reply = agent.call("POST", "/api/v1/messages", 202, json={
            "app_id": app["id"], "contact_id": contact["id"], "text": "Tuesday or Wednesday?",
            "in_reply_to": inbound["id"],
            "await_reply": {"expires_in": 600, "reference": "which-day"}})
        assert reply["status"] == "queued" and reply["waitbox"]["status"] == "waiting"

        # 3. A real worker process sends it through the platform's API.
        server.cli("worker", "--once")
        requests_sent = api.requests_to(platform.send_path)
        assert len(requests_sent) == 1
        platform.check_reply(requests_sent[0], 1)
        sent = agent.call("GET", f"/api/v1/messages/{reply['id']}")
        assert sent["status"] == "sent" and sent["attempts"] == 1

        # 4. The Contact answers the reply: the bound waitbox takes it, not the older one.
        deliver(server, app["id"], platform, 2, "Wednesday", reply_to=platform.sent_key(1))
        bound = agent.call("GET", f"/api/v1/waitboxes/{reply['waitbox']['id']}")
        assert bound["status"] == "answered", bound
        assert bound["message"]["text"] == "Wednesday"
        assert bound["message"]["reply_to"] == platform.sent_key(1)
        assert agent.call("GET", f"/api/v1/waitboxes/{older['id']}")["status"] == "waiting"

        # 5. The conversation lists both directions, in order.
        conversation = agent.call("GET", f"/api/v1/conversations/"
                                         f"{claimed[0]['conversation_id']}")
        assert [(entry["message"]["direction"], entry["message"]["text"])
                for entry in conversation["messages"]] == [
            ("inbound", "Can we move our call?"), ("outbound", "Tuesday or Wednesday?")]
