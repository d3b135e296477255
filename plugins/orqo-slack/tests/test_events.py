"""Events API deliveries: what is routed, how it is normalised, and what is ignored."""
import dataclasses
import json

import pytest
from orqo_slack.testing import APP
from orqo_slack.testing import BOT_USER
from orqo_slack.testing import DM
from orqo_slack.testing import SENDER
from orqo_slack.testing import TEAM
from orqo_slack.testing import USER
from orqo_slack.testing import encode
from orqo_slack.testing import envelope
from orqo_slack.testing import message_event
from orqo_slack.testing import signed

from orqo.messages import Attachment
from orqo.schemas import MessageSchema

CHANNEL = "C0GENERAL1"


def only_message(result):
    [message] = result.messages
    MessageSchema().load(dataclasses.asdict(message))
    return message


def test_a_dm_from_a_contact_is_routed(slack):
    body = encode(envelope(message_event()))
    response = slack.deliver(slack.app_id, body, {**signed(body),
                                                  "Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    [entry] = slack.ledger()
    [message] = entry["messages"]
    assert message["sender_id"] == SENDER
    assert message["contact_id"] == slack.contact_id
    assert message["kind"] == "message"
    assert message["dedupe_key"] == f"{DM}:1717171717.000200"


def test_a_dm_is_normalised(direct):
    message = only_message(direct.parse(encode(envelope(message_event()))))
    assert message.platform == "slack"
    assert message.sender_id == f"{TEAM}:{USER}"
    assert message.text == "Kannst du den Bericht prüfen? 📊 Danke!"
    assert message.chat_id == DM
    assert message.thread_id is None
    assert message.reply_to is None
    assert message.platform_message_id == "1717171717.000200"
    assert message.sent_at == 1717171717.0002
    assert message.kind == "message"
    assert message.attachments == []
    assert message.extra == {
        "event_id": "Ev06A1B2C3D4", "event_type": "message", "ts": "1717171717.000200",
        "channel_type": "im", "team_id": TEAM, "api_app_id": APP,
        "client_msg_id": "5f8c1c7e-2b0a-4a9e-9d1f-3c2b1a0e9f8d"}


def test_escaped_unicode_is_decoded_after_verifying_the_raw_bytes(direct):
    body = encode(envelope(message_event(text="Grüße 👋 <https://example.com/a|Link>")),
                  ascii_only=True)
    assert b"\\u00fc" in body and b"\\/" in body
    assert only_message(direct.parse(body)).text == "Grüße 👋 <https://example.com/a|Link>"


@pytest.mark.parametrize("channel_type,channel", [("channel", CHANNEL), ("group", "G0PRIVATE1"),
                                                  ("mpim", "G0MPIM0001"), ("im", DM)])
def test_messages_in_every_kind_of_conversation_are_routed(direct, channel_type, channel):
    message = only_message(direct.parse(encode(envelope(message_event(
        channel=channel, channel_type=channel_type, text="Kurze Frage 🙋")))))
    assert message.chat_id == channel
    assert message.extra["channel_type"] == channel_type


def test_a_thread_reply_carries_its_thread(direct):
    message = only_message(direct.parse(encode(envelope(message_event(
        channel=CHANNEL, channel_type="channel", ts="1717171900.000400",
        thread_ts="1717171717.000200", parent_user_id=BOT_USER)))))
    assert message.thread_id == "1717171717.000200"
    assert message.reply_to == "1717171717.000200"
    assert message.platform_message_id == "1717171900.000400"


def test_a_threads_root_answers_nothing(direct):
    # Slack gives a thread's root its own ts as thread_ts.
    message = only_message(direct.parse(encode(envelope(message_event(
        channel=CHANNEL, channel_type="channel", thread_ts="1717171717.000200")))))
    assert (message.thread_id, message.reply_to) == ("1717171717.000200", None)


def test_a_reply_also_sent_to_the_channel_answers_its_thread(direct):
    message = only_message(direct.parse(encode(envelope(message_event(
        channel=CHANNEL, channel_type="channel", subtype="thread_broadcast",
        ts="1717171900.000400", thread_ts="1717171717.000200",
        root={"type": "message", "user": BOT_USER, "ts": "1717171717.000200",
              "text": "Lauf 4711 ist fertig."})))))
    assert message.reply_to == "1717171717.000200"


def test_an_app_mention_is_routed(direct):
    event = {"type": "app_mention", "user": USER, "text": f"<@{BOT_USER}> Status von Lauf 4711? 🤖",
             "ts": "1717171999.000500", "client_msg_id": "c2d6f1b0-1d7e-4c6b-8f55-0d9f0f0e1a11",
             "team": TEAM, "channel": CHANNEL, "event_ts": "1717171999.000500",
             "thread_ts": "1717171717.000200", "blocks": []}
    message = only_message(direct.parse(encode(envelope(event, event_id="Ev06MENTION01"))))
    assert message.text.endswith("Lauf 4711? 🤖")
    assert message.thread_id == "1717171717.000200"
    assert message.reply_to == "1717171717.000200"
    assert message.extra["event_type"] == "app_mention"


def test_one_message_delivered_as_message_and_as_app_mention_is_routed_once(slack):
    text = f"<@{BOT_USER}> bitte übernehmen 🙏"
    as_message = encode(envelope(message_event(channel=CHANNEL, channel_type="channel", text=text),
                                 event_id="Ev06MESSAGE01"))
    mention = message_event(channel=CHANNEL, text=text, type="app_mention", channel_type=None)
    as_mention = encode(envelope(mention, event_id="Ev06MENTION01"))
    first = slack.deliver(slack.app_id, as_message, signed(as_message))
    second = slack.deliver(slack.app_id, as_mention, signed(as_mention))
    assert first.json["messages"][0]["outcome"] == "routed"
    assert second.json["messages"][0]["outcome"] == "duplicate"


def test_slack_connect_senders_are_keyed_by_their_own_workspace(direct):
    event = message_event(channel=CHANNEL, channel_type="channel", user="U0PARTNER1",
                          team="T0PARTNER1", user_team="T0PARTNER1", source_team="T0PARTNER1")
    message = only_message(direct.parse(encode(envelope(event, is_ext_shared_channel=True))))
    assert message.sender_id == "T0PARTNER1:U0PARTNER1"


def test_the_envelope_team_is_used_when_the_event_names_none(direct):
    event = message_event(team=None)
    assert only_message(direct.parse(encode(envelope(event)))).sender_id == SENDER


def test_user_profile_gives_the_sender_name(direct):
    event = message_event(user_profile={"avatar_hash": "g1234", "real_name": "Ada Lovelace",
                                        "display_name": "Ada 🦉", "name": "ada", "team": TEAM})
    assert only_message(direct.parse(encode(envelope(event)))).sender_name == "Ada 🦉"


def test_files_become_attachments(direct):
    files = [
        {"id": "F0IMAGE001", "created": 1717171717, "name": "Skizze.png", "title": "Skizze",
         "mimetype": "image/png", "filetype": "png", "user": USER, "size": 52311,
         "url_private": "https://files.slack.com/files-pri/T0ACME123-F0IMAGE001/skizze.png"},
        {"id": "F0VOICE001", "name": "audio_message.webm", "mimetype": "audio/webm",
         "subtype": "slack_audio", "filetype": "webm"},
        {"id": "F0AUDIO001", "name": "Besprechung.mp3", "mimetype": "audio/mpeg"},
        {"id": "F0VIDEO001", "name": "Demo.mp4", "mimetype": "video/mp4"},
        {"id": "F0PDF00001", "name": "Bericht Q2.pdf", "mimetype": "application/pdf"},
        {"id": "F0HIDDEN01", "mode": "hidden_by_limit"},
        {"id": "F0CONNECT1", "file_access": "check_file_info"},
    ]
    event = message_event(text="Anbei die Unterlagen 📎", subtype="file_share", files=files,
                          upload=False, display_as_bot=False)
    message = only_message(direct.parse(encode(envelope(event))))
    assert message.text == "Anbei die Unterlagen 📎"
    assert message.attachments == [
        Attachment("image", "F0IMAGE001", files[0]["url_private"], "image/png", "Skizze.png"),
        Attachment("voice", "F0VOICE001", None, "audio/webm", "audio_message.webm"),
        Attachment("audio", "F0AUDIO001", None, "audio/mpeg", "Besprechung.mp3"),
        Attachment("video", "F0VIDEO001", None, "video/mp4", "Demo.mp4"),
        Attachment("document", "F0PDF00001", None, "application/pdf", "Bericht Q2.pdf"),
        Attachment("document", "F0HIDDEN01"),
        Attachment("document", "F0CONNECT1"),
    ]


@pytest.mark.parametrize("subtype", ["thread_broadcast", "me_message", "file_share"])
def test_subtypes_that_are_a_person_writing_are_routed(direct, subtype):
    message = only_message(direct.parse(encode(envelope(message_event(subtype=subtype)))))
    assert message.extra["subtype"] == subtype


IGNORED = [
    ("bot_id", message_event(bot_id="B0OTHERBOT", app_id="A0OTHERAPP",
                             bot_profile={"id": "B0OTHERBOT", "name": "Jira"}), "a bot's message"),
    ("bot_message", message_event(subtype="bot_message", user=None, username="Build-Bot 🏗️"),
     "bot"),
    ("own app_id", message_event(app_id=APP), "the App's own message (app_id)"),
    ("own bot user", message_event(user=BOT_USER), "the App's own message (bot_user_id)"),
    ("message_deleted", message_event(subtype="message_deleted", hidden=True, user=None,
                                      deleted_ts="1717171717.000200"), "'message_deleted'"),
    ("channel_join", message_event(subtype="channel_join", channel=CHANNEL,
                                   text=f"<@{USER}> ist dem Channel beigetreten"),
     "'channel_join'"),
    ("channel_topic", message_event(subtype="channel_topic", topic="Q2 🚀"), "'channel_topic'"),
    ("no user", message_event(user=None), "without a user"),
    ("reaction_added", {"type": "reaction_added", "user": USER, "reaction": "thumbsup",
                        "item_user": BOT_USER, "item": {"type": "message", "channel": DM,
                                                         "ts": "1717171717.000200"},
                        "event_ts": "1717172100.000600"}, "'reaction_added' is not routed"),
    ("app_home_opened", {"type": "app_home_opened", "user": USER, "channel": DM, "tab": "home",
                         "event_ts": "1717172100.000700"}, "'app_home_opened'"),
]


@pytest.mark.parametrize("name,event,reason", IGNORED, ids=[name for name, *_ in IGNORED])
def test_events_that_are_not_a_person_writing_are_ignored_with_a_reason(slack, name, event,
                                                                        reason):
    body = encode(envelope(event))
    response = slack.deliver(slack.app_id, body, signed(body))
    assert response.status_code == 200
    assert response.json["messages"] == []
    [entry] = slack.ledger()
    assert entry["outcome"] == "accepted"
    assert reason in entry["reason"]


def test_the_installations_bot_user_is_known_from_authorizations(direct):
    # No bot_user_id configured: the envelope's authorizations still name the App's bot user.
    result = direct.parse(encode(envelope(message_event(user=BOT_USER))))
    assert (result.messages, result.reason) == ([], "the App's own message (its bot user)")


def message_changed(new_text, old_text="Kannst du den Bericht prüfen?", **edited_fields):
    edited = {"client_msg_id": "5f8c1c7e-2b0a-4a9e-9d1f-3c2b1a0e9f8d", "type": "message",
              "text": new_text, "user": USER, "team": TEAM, "ts": "1717171717.000200",
              "edited": {"user": USER, "ts": "1717172222.000000"},
              "thread_ts": "1717171000.000100", "blocks": [], **edited_fields}
    previous = {"client_msg_id": "5f8c1c7e-2b0a-4a9e-9d1f-3c2b1a0e9f8d", "type": "message",
                "text": old_text, "user": USER, "team": TEAM, "ts": "1717171717.000200"}
    return {"type": "message", "subtype": "message_changed", "message": edited,
            "previous_message": previous, "channel": DM, "hidden": True,
            "ts": "1717172222.000700", "event_ts": "1717172222.000700", "channel_type": "im"}


def test_an_edit_is_routed_as_kind_edit(slack, direct):
    event = message_changed("Kannst du den Bericht bis Freitag prüfen? 📅")
    message = only_message(direct.parse(encode(envelope(event, event_id="Ev06EDIT0001"))))
    assert message.kind == "edit"
    assert message.text == "Kannst du den Bericht bis Freitag prüfen? 📅"
    assert message.sender_id == SENDER
    assert message.platform_message_id == "1717171717.000200"
    assert message.thread_id == "1717171000.000100"
    assert message.reply_to == "1717171000.000100"
    assert message.sent_at == 1717172222.0
    assert message.dedupe_key == "Ev06EDIT0001"
    assert "edited_ts_from" not in message.extra

    original = encode(envelope(message_event()))
    edit = encode(envelope(event, event_id="Ev06EDIT0001"))
    for body in (original, edit, edit):
        slack.deliver(slack.app_id, body, signed(body))
    routed = [(m["kind"], m["outcome"]) for e in reversed(slack.ledger()) for m in e["messages"]]
    assert routed == [("message", "routed"), ("edit", "routed"), ("edit", "duplicate")]


@pytest.mark.parametrize("event,reason", [
    (message_changed("Kannst du den Bericht prüfen?", attachments=[{"title": "Link preview"}]),
     "without a text change"),
    (message_changed("Fertig ✅", bot_id="B0OTHERBOT"), "an edit of a bot's message"),
    (message_changed("Fertig ✅", user=BOT_USER), "an edit of the App's own message"),
    (message_changed("This message was deleted.", subtype="tombstone"), "'tombstone'"),
])
def test_edits_that_are_not_a_person_changing_text_are_ignored(direct, event, reason):
    result = direct.parse(encode(envelope(event)), config={"bot_user_id": BOT_USER})
    assert result.messages == []
    assert reason in result.reason


def _without_ts(event, *holders):
    event = json.loads(json.dumps(event))
    for holder in holders:
        (event[holder] if holder else event).pop("ts")
    return event


def test_an_edit_whose_message_has_no_ts_takes_the_previous_messages(slack, direct):
    # Issue 16: answered 400 with X-Slack-No-Retry before, so the edit was lost for good.
    event = _without_ts(message_changed("Kannst du den Bericht bis Montag prüfen?"), "message")
    message = only_message(direct.parse(encode(envelope(event))))
    assert (message.kind, message.platform_message_id) == ("edit", "1717171717.000200")
    assert message.reply_to == "1717171000.000100"
    assert message.extra["edited_ts_from"] == "previous_message"
    body = encode(envelope(event))
    response = slack.deliver(slack.app_id, body, signed(body))
    assert response.status_code == 200
    assert response.json["messages"][0]["outcome"] == "routed"


def test_an_edit_with_no_ts_in_either_message_takes_the_events_own(direct):
    event = _without_ts(message_changed("Kannst du den Bericht bis Montag prüfen?"),
                        "message", "previous_message")
    event["ts"] = "1717171717.000200"  # as recorded payloads carry it: the edited message's ts
    message = only_message(direct.parse(encode(envelope(event))))
    assert message.platform_message_id == "1717171717.000200"
    assert message.extra["edited_ts_from"] == "event"


def test_an_edit_whose_message_has_no_user_takes_the_previous_messages(direct):
    event = message_changed("Kannst du den Bericht bis Montag prüfen?")
    del event["message"]["user"]
    assert only_message(direct.parse(encode(envelope(event)))).sender_id == SENDER


def test_an_edit_without_any_ts_is_malformed(slack):
    event = _without_ts(message_changed("Neu"), "message", "previous_message", None)
    body = encode(envelope(event))
    response = slack.deliver(slack.app_id, body, signed(body))
    assert response.status_code == 400
    assert "message_changed event has no ts" in response.json["error"]["message"]
    assert response.headers["X-Slack-No-Retry"] == "1"


def test_an_edit_outside_a_thread_answers_nothing(direct):
    event = message_changed("Kannst du den Bericht bis Montag prüfen?")
    del event["message"]["thread_ts"]
    message = only_message(direct.parse(encode(envelope(event))))
    assert (message.thread_id, message.reply_to) == (None, None)
