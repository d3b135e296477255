"""Slack deliveries as Slack's documentation shows them, for tests.

Shapes from api.slack.com/apis/events-api (the ``event_callback`` envelope),
api.slack.com/events/message, api.slack.com/events/app_mention and
api.slack.com/reference/interaction-payloads/block-actions-payload and
docs.slack.dev/reference/methods/chat.postMessage (:func:`posted`), with realistic ids,
non-ASCII text and emoji. Used by this plugin's tests; handy for anything downstream that
wants a Slack delivery to feed orqo. The ids and secrets here are made up.
"""
from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

from orqo.testing.signers import slack_headers

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
OTHER_SECRET = "1c3e1e4b2d0f7a9e8b6c5d4f3a2b1c0d"
BOT_TOKEN = "xoxb-orqo-test-token-not-real"
TEAM = "T0ACME123"
USER = "U0ADA0001"
BOT_USER = "U0BOTORQO"
APP = "A0ORQOAPP"
DM = "D0ADADM01"
SENDER = f"{TEAM}:{USER}"


def encode(document, ascii_only=False) -> bytes:
    """JSON bytes as Slack might send them (raw UTF-8, or \\u escapes and escaped slashes)."""
    text = json.dumps(document, ensure_ascii=ascii_only)
    return (text.replace("/", "\\/") if ascii_only else text).encode()


def rich_text(text):
    """The ``blocks`` Slack adds to a message a person typed."""
    return [{"type": "rich_text", "block_id": "Xq1Bn", "elements": [
        {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}]}]


def message_event(text="Kannst du den Bericht prüfen? 📊 Danke!", ts="1717171717.000200",
                  channel=DM, channel_type="im", user=USER, **fields) -> dict:
    """A ``message`` event as Slack sends it for a person writing (a DM by default)."""
    event = {"client_msg_id": "5f8c1c7e-2b0a-4a9e-9d1f-3c2b1a0e9f8d", "type": "message",
             "text": text, "user": user, "ts": ts, "blocks": rich_text(text), "team": TEAM,
             "channel": channel, "event_ts": ts, "channel_type": channel_type}
    event.update(fields)
    return {key: value for key, value in event.items() if value is not None}


def envelope(event, event_id="Ev06A1B2C3D4", **fields) -> dict:
    """The Events API ``event_callback`` envelope around ``event``."""
    document = {
        "token": "ZZZZZZWSxiZZZ2yIvs3peJ", "team_id": TEAM, "context_team_id": TEAM,
        "context_enterprise_id": None, "api_app_id": APP, "event": event,
        "type": "event_callback", "event_id": event_id, "event_time": 1717171717,
        "authorizations": [{"enterprise_id": None, "team_id": TEAM, "user_id": BOT_USER,
                            "is_bot": True, "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6Im1lc3NhZ2UiLCJ0aWQiOiJUMEFDTUUxMjMifQ",
    }
    document.update(fields)
    return document


def block_actions(value="approve_run_4711", action_id="approve", label="Freigeben ✅",
                  **fields) -> dict:
    """A ``block_actions`` payload for a button press on a message in a DM thread."""
    payload = {
        "type": "block_actions",
        "user": {"id": USER, "username": "ada", "name": "ada", "team_id": TEAM},
        "api_app_id": APP, "token": "ZZZZZZWSxiZZZ2yIvs3peJ",
        "container": {"type": "message", "message_ts": "1717171800.000300", "channel_id": DM,
                      "is_ephemeral": False, "thread_ts": "1717171717.000200"},
        "trigger_id": "7123456789012.17653672481.0a1b2c3d4e5f60718293a4b5c6d7e8f9",
        "team": {"id": TEAM, "domain": "acme-gmbh"},
        "enterprise": None, "is_enterprise_install": False,
        "channel": {"id": DM, "name": "directmessage"},
        "message": {"type": "message", "user": BOT_USER, "ts": "1717171800.000300",
                    "bot_id": "B0ORQOBOT", "app_id": APP, "text": "Lauf 4711 freigeben?",
                    "team": TEAM, "thread_ts": "1717171717.000200",
                    "blocks": [{"type": "actions", "block_id": "approval", "elements": []}]},
        "state": {"values": {}},
        "response_url": "https://hooks.slack.com/actions/T0ACME123/0000000000/example",
        "actions": [{"action_id": action_id, "block_id": "approval",
                     "text": {"type": "plain_text", "text": label, "emoji": True},
                     "value": value, "style": "primary", "type": "button",
                     "action_ts": "1717171830.123456"}],
    }
    payload.update(fields)
    return {key: value for key, value in payload.items() if value is not None}


def posted(channel=DM, ts="1717172000.000600", text="Der Bericht ist fertig ✅",
           thread_ts=None) -> dict:
    """Slack's answer to a ``chat.postMessage`` that posted (docs.slack.dev's example, with
    the fields a bot token's post carries)."""
    message = {"user": BOT_USER, "type": "message", "ts": ts, "bot_id": "B0ORQOBOT",
               "app_id": APP, "text": text, "team": TEAM, "thread_ts": thread_ts,
               "bot_profile": {"id": "B0ORQOBOT", "app_id": APP, "name": "orqo",
                               "deleted": False, "team_id": TEAM},
               "blocks": rich_text(text)}
    return {"ok": True, "channel": channel, "ts": ts,
            "message": {key: value for key, value in message.items() if value is not None}}


def form(payload: dict) -> bytes:
    """An interactivity delivery: the form ``payload=<json>``, as Slack posts it."""
    return urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode()


def signed(body: bytes, *, secret=SECRET, timestamp=None, **headers) -> dict:
    """Slack's headers for ``body`` plus any extra ones."""
    return {**slack_headers(secret, body, timestamp), **headers}


def sample_delivery(signing_secret: str, sender_id: str, text: str,
                    thread_ts: str | None = None, channel: str = DM) -> tuple[bytes, dict]:
    """A signed ``event_callback`` of a person's DM, for :meth:`SlackAdapter.sample_delivery`:
    ``sender_id`` is ``<team>:<user>``; ``ts``, ``event_id`` and ``client_msg_id`` are new on
    every call (the message's dedupe key is ``<channel>:<ts>``), the timestamps are now."""
    team, _, user = sender_id.partition(":")
    if not (team and user and team[0].isalpha() and user[0].isalpha()):
        raise ValueError("a Slack sender id is <team>:<user>, such as T0ACME123:U0ADA0001")
    now = time.time()
    ts = f"{now:.6f}"
    event = message_event(text, ts=ts, channel=channel, user=user, team=team,
                          thread_ts=thread_ts, client_msg_id=str(uuid.uuid4()))
    document = envelope(event, event_id="Ev" + uuid.uuid4().hex[:12].upper(), team_id=team,
                        context_team_id=team, event_time=int(now))
    body = encode(document)
    return body, signed(body, secret=signing_secret, timestamp=now,
                        **{"Content-Type": "application/json"})
