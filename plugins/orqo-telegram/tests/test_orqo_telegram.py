"""The Telegram adapter: secret token, settings, and every update shape it routes or ignores.

Payloads follow the Bot API reference (core.telegram.org/bots/api#update) and are parsed by
python-telegram-bot as a second opinion on their shape and on who sent them.
"""
import dataclasses
import json
import time

import orqo_telegram
import pytest
import telegram
from orqo_telegram import TelegramAdapter

from orqo import create_app
from orqo.errors import ApiError
from orqo.schemas import MessageSchema
from orqo.services import apps as app_service
from orqo.testing import Harness
from orqo.testing.conformance import make_stage_request
from orqo.testing.signers import telegram_headers

SECRET = "Tg_webhook-secret_0123456789"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
API = "https://api.telegram.org"  # the default api_base_url
HEADERS = telegram_headers(SECRET)
DATE = 1717171717

USER = {"id": 123456789, "is_bot": False, "first_name": "Zoë", "last_name": "Ångström",
        "username": "zoe_a", "language_code": "de"}
PRIVATE = {"id": 123456789, "first_name": "Zoë", "last_name": "Ångström", "username": "zoe_a",
           "type": "private"}
GROUP = {"id": -1001234567890, "title": "Ops 🚀 Team", "type": "supergroup"}
FORUM = {"id": -1009876543210, "title": "Support Desk", "is_forum": True, "type": "supergroup"}
CHANNEL = {"id": -1001112223334, "title": "Release Notes 📣", "username": "release_notes",
           "type": "channel"}
BOT = {"id": 7000000001, "is_bot": True, "first_name": "ORQO", "username": "orqo_bot"}


def message(message_id=1365, text="Hallo, wie geht's? 👋", chat=PRIVATE, sender=USER, **fields):
    """A Message object as the Bot API sends it."""
    body = {"message_id": message_id, "from": sender, "chat": chat, "date": DATE}
    if sender is None:
        del body["from"]
    if text is not None:
        body["text"] = text
    body.update(fields)
    return body


def update(update_id=10000, **fields) -> bytes:
    """An Update body, UTF-8 JSON as Telegram sends it."""
    return json.dumps({"update_id": update_id, **fields}, ensure_ascii=False).encode()


def parse(body: bytes, credentials=None, config=None, received_at=DATE + 5.0):
    """Run the adapter's stages directly; return the ParseResult (validated like the host)."""
    adapter = TelegramAdapter()
    credentials, config = adapter.validate_settings(
        {"TELEGRAM_WEBHOOK_SECRET": SECRET} if credentials is None else credentials, config or {})
    request = make_stage_request("AppTelegram01", "telegram", body, HEADERS, credentials, config,
                                 received_at=received_at)
    assert adapter.verify(request).accepted
    result = adapter.parse(request)
    for each in result.messages:
        MessageSchema().load(dataclasses.asdict(each))
    return result


def only(body: bytes):
    [result] = parse(body).messages
    return result


def ptb(body: bytes) -> telegram.Update:
    return telegram.Update.de_json(json.loads(body), None)


@pytest.fixture
def tg(make_app):
    harness = Harness(make_app(plugins=[orqo_telegram]))
    harness.app_id = harness.add_app("telegram", {"TELEGRAM_WEBHOOK_SECRET": SECRET})
    harness.contact = harness.add_contact({harness.app_id: "123456789"})
    return harness


def test_plugin_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert type(app.extensions["orqo"].adapters["telegram"]).__name__ == "TelegramAdapter"
    assert app.extensions["orqo"].adapter_plugins["telegram"] == "telegram"


# --- the secret token -------------------------------------------------------------------------

def test_private_message_with_the_secret_is_routed(tg):
    body = update(message=message(entities=[{"offset": 0, "length": 5, "type": "bold"}]))
    response = tg.deliver(tg.app_id, body, HEADERS)
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    entry = tg.ledger()[0]
    assert entry["meta"] == {"update_id": 10000, "update_type": "message"}
    assert entry["messages"][0]["dedupe_key"] == "10000"
    assert entry["messages"][0]["contact_id"] == tg.contact


@pytest.mark.parametrize("headers,reason", [
    ({}, "missing X-Telegram-Bot-Api-Secret-Token"),
    ({HEADER: ""}, "missing X-Telegram-Bot-Api-Secret-Token"),
    ({HEADER: "Tg_webhook-secret_0123456780"}, "does not match"),
    ({HEADER: SECRET.upper()}, "does not match"),
    ({HEADER: SECRET[:-1]}, "does not match"),
    ({HEADER: SECRET + "x"}, "does not match"),
    ({HEADER: "wrong secret with spaces"}, "not a valid secret token"),
    ({"X-Telegram-Bot-Api-Secret": SECRET}, "missing"),
    ([(HEADER, "forged"), (HEADER, SECRET)], "more than once"),
    ([(HEADER, SECRET), (HEADER, SECRET)], "more than once"),
    ({HEADER: f"{SECRET}, {SECRET}"}, "more than once"),
])
def test_bad_secret_tokens_are_rejected_401(tg, headers, reason):
    response = tg.deliver(tg.app_id, update(message=message()), headers)
    assert response.status_code == 401
    assert reason in response.json["error"]["message"]
    [entry] = tg.ledger()
    assert entry["outcome"] == "rejected_signature" and entry["messages"] == []
    assert SECRET not in json.dumps(entry) and SECRET not in response.get_data(as_text=True)


def test_header_names_are_case_insensitive(tg):
    body = update(message=message())
    assert tg.deliver(tg.app_id, body, {HEADER.lower(): SECRET}).status_code == 200


def test_unsigned_app_accepts_deliveries_without_a_token(make_app):
    harness = Harness(make_app(plugins=[orqo_telegram]))
    app_id = harness.add_app("telegram", {}, {"allow_unsigned": True})
    harness.add_contact({app_id: "123456789"})
    response = harness.deliver(app_id, update(message=message()))
    assert response.json["messages"][0]["outcome"] == "routed"
    assert harness.deliver(app_id, update(2, message=message()), {HEADER: "any"}).status_code == 200


def test_a_configured_secret_is_checked_even_when_unsigned_is_allowed(make_app):
    harness = Harness(make_app(plugins=[orqo_telegram]))
    app_id = harness.add_app("telegram", {"TELEGRAM_WEBHOOK_SECRET": SECRET},
                             {"allow_unsigned": True})
    harness.add_contact({app_id: "123456789"})
    assert harness.deliver(app_id, update(message=message())).status_code == 401
    assert harness.deliver(app_id, update(message=message()), {HEADER: "nope"}).status_code == 401
    assert harness.deliver(app_id, update(message=message()), HEADERS).status_code == 200


def test_an_app_saved_before_the_rule_without_a_secret_is_refused():
    adapter = TelegramAdapter()
    request = make_stage_request("A1", "telegram", update(message=message()), {}, {},
                                 {"allow_unsigned": False})
    verdict = adapter.verify(request)
    assert not verdict.accepted and "does not allow unsigned" in verdict.reason


def test_rotated_secret_is_accepted_during_the_grace_period(tg):
    with tg.app.app_context():
        app_service.rotate_credentials(tg.app_id, {"TELEGRAM_WEBHOOK_SECRET": "New_secret-2"}, 600)
    assert tg.deliver(tg.app_id, update(1, message=message()), HEADERS).status_code == 200
    new = telegram_headers("New_secret-2")
    assert tg.deliver(tg.app_id, update(2, message=message()), new).status_code == 200
    assert tg.deliver(tg.app_id, update(3, message=message()), {HEADER: "Old"}).status_code == 401


# --- settings ---------------------------------------------------------------------------------

def test_an_app_without_a_secret_is_refused(make_app):
    harness = Harness(make_app(plugins=[orqo_telegram]))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("telegram", {"TELEGRAM_BOT_TOKEN": "123456:ABC-DEF1234ghIkl-zyx57W2v1u"})
    assert excinfo.value.status == 422
    [problem] = excinfo.value.details["credentials"]["TELEGRAM_WEBHOOK_SECRET"]
    assert "allow_unsigned" in problem


@pytest.mark.parametrize("secret", ["", "has space", "umlaut-ä", "a" * 257, "dot.ted",
                                    "line\n", "colon:x", "comma,x"])
def test_secrets_telegram_would_not_accept_are_refused(secret):
    with pytest.raises(Exception) as excinfo:
        TelegramAdapter.validate_settings({"TELEGRAM_WEBHOOK_SECRET": secret}, {})
    assert "1 to 256 characters" in str(excinfo.value.messages)


@pytest.mark.parametrize("secret", ["a", "Z" * 256, "A-z_0-9", "-_-"])
def test_secrets_of_every_allowed_character_and_length_are_accepted(secret):
    credentials, config = TelegramAdapter.validate_settings(
        {"TELEGRAM_WEBHOOK_SECRET": secret}, {})
    assert credentials == {"TELEGRAM_WEBHOOK_SECRET": secret}
    assert config == {"allow_unsigned": False, "api_base_url": API}


def test_every_settings_problem_is_reported_at_once():
    with pytest.raises(Exception) as excinfo:
        TelegramAdapter.validate_settings({"TELEGRAM_BOT_TOKEN": "not a token", "TYPO": "x"}, {})
    credentials = excinfo.value.messages["credentials"]
    assert set(credentials) == {"TELEGRAM_BOT_TOKEN", "TYPO", "TELEGRAM_WEBHOOK_SECRET"}
    with pytest.raises(Exception) as excinfo:
        TelegramAdapter.validate_settings({}, {"allow_unsigned": "perhaps"})
    assert set(excinfo.value.messages) == {"config"}


def test_allow_unsigned_from_the_command_line_is_a_boolean():
    assert TelegramAdapter.validate_settings({}, {"allow_unsigned": "true"}) == (
        {}, {"allow_unsigned": True, "api_base_url": API})


def test_cli_refuses_an_app_without_a_secret_unless_unsigned_is_allowed(make_app):
    app = make_app(plugins=[orqo_telegram])
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["apps", "create", "--name", "Support bot", "--adapter",
                                  "telegram", "--credential", "TELEGRAM_BOT_TOKEN=123:abc"])
    assert refused.exit_code == 1
    assert "TELEGRAM_WEBHOOK_SECRET" in refused.output
    unsigned = runner.invoke(args=["apps", "create", "--name", "Dev bot", "--adapter", "telegram",
                                   "--config", "allow_unsigned=true"])
    signed = runner.invoke(args=["apps", "create", "--name", "Prod bot", "--adapter", "telegram",
                                 "--credential", f"TELEGRAM_WEBHOOK_SECRET={SECRET}"])
    assert unsigned.exit_code == 0 and signed.exit_code == 0
    listed = runner.invoke(args=["apps", "list", "--json"])
    assert listed.exit_code == 0 and SECRET not in listed.output
    apps = {entry["name"]: entry for entry in json.loads(listed.output)}
    assert set(apps) == {"Dev bot", "Prod bot"}
    assert apps["Dev bot"]["config"] == {"allow_unsigned": True, "api_base_url": API}
    assert apps["Dev bot"]["credentials_set"] == []
    assert apps["Prod bot"]["config"] == {"allow_unsigned": False, "api_base_url": API}
    assert apps["Prod bot"]["credentials_set"] == ["TELEGRAM_WEBHOOK_SECRET"]


# --- normalising messages ---------------------------------------------------------------------

def test_private_text_message_fields():
    body = update(10001, message=message(
        text="/start Grüße aus Köln 🎉", entities=[{"offset": 0, "length": 6,
                                                   "type": "bot_command"}]))
    result = parse(body)
    [msg] = result.messages
    assert (msg.platform, msg.kind, msg.sender_id, msg.sender_name) == (
        "telegram", "message", "123456789", "Zoë Ångström")
    assert (msg.chat_id, msg.platform_message_id, msg.dedupe_key) == (
        "123456789", "123456789:1365", "10001")
    assert msg.text == "/start Grüße aus Köln 🎉"
    assert msg.thread_id is None and msg.sent_at == DATE and msg.attachments == []
    assert msg.extra["chat_type"] == "private"
    assert ptb(body).effective_sender.id == int(msg.sender_id)


def test_username_is_the_name_when_there_is_no_first_name():
    sender = {"id": 55, "is_bot": False, "first_name": "", "username": "nameless"}
    assert only(update(message=message(sender=sender))).sender_name == "nameless"
    assert only(update(message=message(sender={"id": 55, "is_bot": False,
                                               "first_name": "Ян"}))).sender_name == "Ян"


def test_group_chat_has_a_negative_chat_id():
    body = update(message=message(4711, "Кто на дежурстве сегодня? 🛠", chat=GROUP))
    msg = only(body)
    assert msg.chat_id == "-1001234567890"
    assert msg.platform_message_id == "-1001234567890:4711"
    assert msg.sender_id == "123456789"
    assert str(ptb(body).effective_chat.id) == msg.chat_id


def test_forum_topic_message_is_in_the_topic_thread():
    body = update(message=message(90, "Der Login klappt nicht 😕", chat=FORUM,
                                  message_thread_id=77, is_topic_message=True))
    msg = only(body)
    assert msg.thread_id == "-1009876543210:77"
    assert msg.extra["message_thread_id"] == 77
    assert ptb(body).effective_message.message_thread_id == 77


def test_topic_wins_over_the_replied_to_message():
    replied = message(88, "Welche Version?", chat=FORUM, sender=BOT, message_thread_id=77)
    msg = only(update(message=message(91, "2.4.1", chat=FORUM, message_thread_id=77,
                                      is_topic_message=True, reply_to_message=replied)))
    assert msg.thread_id == "-1009876543210:77"


def test_a_reply_is_threaded_on_the_message_it_answers():
    question = message(1360, "Soll ich deployen? 🚀", sender=BOT)
    msg = only(update(message=message(1366, "Ja, bitte!", reply_to_message=question)))
    assert msg.thread_id == "123456789:1360" == f"{msg.chat_id}:{question['message_id']}"
    assert msg.extra["reply_to_message_id"] == 1360


def test_a_reply_points_at_the_message_it_answers():
    question = message(1360, "Soll ich deployen? 🚀", sender=BOT)
    msg = only(update(message=message(1366, "Ja, bitte!", reply_to_message=question)))
    assert msg.reply_to == "123456789:1360"
    assert only(update(message=message(1367, "Und noch etwas"))).reply_to is None


def test_a_quote_from_another_chat_is_no_reply():
    origin = {"type": "channel", "chat": CHANNEL, "message_id": 31, "date": DATE}
    msg = only(update(message=message(1368, "Stimmt das?", external_reply={
        "origin": origin, "chat": CHANNEL, "message_id": 31})))
    assert msg.reply_to is None and msg.thread_id is None


TOPIC_CREATED = message(77, None, chat=FORUM, message_thread_id=77, is_topic_message=True,
                        forum_topic_created={"name": "Login-Probleme", "icon_color": 7322096})


def test_the_topic_creation_a_topic_message_hangs_from_is_no_reply():
    body = update(message=message(90, "Der Login klappt nicht 😕", chat=FORUM,
                                  message_thread_id=77, is_topic_message=True,
                                  reply_to_message=TOPIC_CREATED))
    msg = only(body)
    assert msg.reply_to is None and msg.thread_id == "-1009876543210:77"
    assert msg.extra["is_topic_message"] is True and msg.extra["message_thread_id"] == 77
    assert ptb(body).effective_message.reply_to_message.forum_topic_created.name == (
        "Login-Probleme")


def test_a_reply_inside_a_forum_topic_points_at_the_message_it_answers():
    replied = message(88, "Welche Version?", chat=FORUM, sender=BOT, message_thread_id=77,
                      is_topic_message=True)
    msg = only(update(message=message(91, "2.4.1", chat=FORUM, message_thread_id=77,
                                      is_topic_message=True, reply_to_message=replied)))
    assert (msg.reply_to, msg.thread_id) == ("-1009876543210:88", "-1009876543210:77")


def test_a_reply_chain_in_a_plain_supergroup_is_not_a_topic():
    replied = message(4700, "Wer übernimmt?", chat=GROUP, sender=BOT)
    msg = only(update(message=message(4711, "Ich", chat=GROUP, message_thread_id=4700,
                                      reply_to_message=replied)))
    assert msg.reply_to == "-1001234567890:4700"
    assert msg.extra["is_topic_message"] is False


def test_edited_message_is_an_edit_with_its_edit_date():
    original = update(20000, message=message(1365, "Treffen um 10"))
    edited = update(20001, edited_message=message(1365, "Treffen um 11 ⏰", edit_date=DATE + 90))
    first, edit = only(original), only(edited)
    assert edit.kind == "edit" and edit.sent_at == DATE + 90
    assert edit.platform_message_id == first.platform_message_id
    assert edit.dedupe_key == "20001" != first.dedupe_key


def test_channel_post_is_sent_by_the_channel():
    post = message(31, "Version 2.0 ist da! 🎉", chat=CHANNEL, sender=None, sender_chat=CHANNEL,
                   author_signature="Zoë")
    body = update(channel_post=post)
    msg = only(body)
    assert msg.sender_id == "-1001112223334" and msg.sender_name == "Release Notes 📣"
    assert msg.kind == "message" and msg.chat_id == "-1001112223334"
    assert str(ptb(body).effective_sender.id) == msg.sender_id
    edit = only(update(10002, edited_channel_post={**post, "edit_date": DATE + 5}))
    assert edit.kind == "edit" and edit.sent_at == DATE + 5


def test_an_older_channel_post_without_sender_chat_is_sent_by_the_channel(tg):
    post = message(30, "Wartungsfenster heute 22 Uhr 🔧", chat=CHANNEL, sender=None)
    body = update(channel_post=post)
    msg = only(body)
    assert (msg.sender_id, msg.sender_name) == ("-1001112223334", "Release Notes 📣")
    assert (msg.chat_id, msg.kind) == ("-1001112223334", "message")
    assert str(ptb(body).effective_chat.id) == msg.sender_id
    edit = only(update(10003, edited_channel_post={**post, "edit_date": DATE + 5}))
    assert edit.kind == "edit" and edit.sender_id == "-1001112223334"
    # Delivered, it is routed like any message, not refused as malformed (issue 16).
    channel_contact = tg.add_contact({tg.app_id: "-1001112223334"}, name="Release Notes")
    waitbox = tg.open_waitbox(tg.app_id, channel_contact)
    response = tg.deliver(tg.app_id, body, HEADERS)
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "routed", "handler": "waitbox"}]
    assert tg.waitbox(waitbox)["message"]["sender_id"] == "-1001112223334"


def test_anonymous_group_admin_is_the_group_not_the_fake_user():
    fake = {"id": 1087968824, "is_bot": True, "first_name": "Group",
            "username": "GroupAnonymousBot"}
    body = update(message=message(12, "Wartung heute Abend", chat=GROUP, sender=fake,
                                  sender_chat=GROUP))
    msg = only(body)
    assert msg.sender_id == "-1001234567890" and msg.sender_name == "Ops 🚀 Team"
    assert str(ptb(body).effective_sender.id) == msg.sender_id


PHOTO = [
    {"file_id": "AgACAgQAAxkBAAIBs2Z-small", "file_unique_id": "AQADs1", "file_size": 1296,
     "width": 90, "height": 67},
    {"file_id": "AgACAgQAAxkBAAIBs2Z-large", "file_unique_id": "AQADs3", "file_size": 92731,
     "width": 1280, "height": 960},
    {"file_id": "AgACAgQAAxkBAAIBs2Z-medium", "file_unique_id": "AQADs2", "file_size": 19612,
     "width": 320, "height": 240},
]
VIDEO = {"file_id": "BAACAgIAAxkBAAIBtGZ-video", "file_unique_id": "AgADv", "width": 1920,
         "height": 1080, "duration": 12, "mime_type": "video/mp4", "file_name": "demo.mp4",
         "file_size": 4051200}


@pytest.mark.parametrize("fields,expected", [
    ({"photo": PHOTO, "caption": "Fehlermeldung 📸"},
     [{"kind": "image", "file_id": "AgACAgQAAxkBAAIBs2Z-large"}]),
    ({"voice": {"file_id": "AwACAgIAAxkBAAIBtWZ-voice", "file_unique_id": "AgADvo",
                "duration": 4, "mime_type": "audio/ogg", "file_size": 14280}},
     [{"kind": "voice", "file_id": "AwACAgIAAxkBAAIBtWZ-voice", "mime_type": "audio/ogg"}]),
    ({"audio": {"file_id": "CQACAgIAAxkBAAIBtmZ-audio", "file_unique_id": "AgADau",
                "duration": 215, "performer": "Die Ärzte", "title": "Schrei nach Liebe",
                "file_name": "schrei.mp3", "mime_type": "audio/mpeg", "file_size": 5160000}},
     [{"kind": "audio", "file_id": "CQACAgIAAxkBAAIBtmZ-audio", "name": "schrei.mp3",
       "mime_type": "audio/mpeg"}]),
    ({"document": {"file_id": "BQACAgIAAxkBAAIBt2Z-doc", "file_unique_id": "AgADdo",
                   "file_name": "Rechnung_März.pdf", "mime_type": "application/pdf",
                   "file_size": 48213}, "caption": "Rechnung anbei"},
     [{"kind": "document", "file_id": "BQACAgIAAxkBAAIBt2Z-doc", "name": "Rechnung_März.pdf",
       "mime_type": "application/pdf"}]),
    ({"video": VIDEO},
     [{"kind": "video", "file_id": VIDEO["file_id"], "name": "demo.mp4",
       "mime_type": "video/mp4"}]),
    ({"video_note": {"file_id": "DQACAgIAAxkBAAIBuGZ-note", "file_unique_id": "AgADno",
                     "length": 240, "duration": 7}},
     [{"kind": "video", "file_id": "DQACAgIAAxkBAAIBuGZ-note"}]),
    ({"animation": {**VIDEO, "file_id": "CgACAgQAAxkBAAIBuWZ-gif", "file_name": "party.mp4"},
      "document": {**VIDEO, "file_id": "CgACAgQAAxkBAAIBuWZ-gif", "file_name": "party.mp4"}},
     [{"kind": "video", "file_id": "CgACAgQAAxkBAAIBuWZ-gif", "name": "party.mp4",
       "mime_type": "video/mp4"}]),
    ({"sticker": {"file_id": "CAACAgIAAxkBAAIBumZ-sticker", "file_unique_id": "AgADst",
                  "type": "regular", "width": 512, "height": 512, "is_animated": False,
                  "is_video": False, "emoji": "😂", "set_name": "HotCherry"}},
     [{"kind": "sticker", "file_id": "CAACAgIAAxkBAAIBumZ-sticker"}]),
    ({"location": {"latitude": 50.941357, "longitude": 6.958307}},
     [{"kind": "location", "url": "geo:50.941357,6.958307"}]),
    ({"venue": {"location": {"latitude": 48.858370, "longitude": 2.294481},
                "title": "Tour Eiffel", "address": "Champ de Mars, Paris"},
      "location": {"latitude": 48.858370, "longitude": 2.294481}},
     [{"kind": "location", "url": "geo:48.85837,2.294481"}]),
])
def test_media_become_attachments(fields, expected):
    body = update(message=message(text=None, **fields))
    msg = only(body)
    defaults = {"file_id": None, "url": None, "mime_type": None, "name": None}
    assert [dataclasses.asdict(a) for a in msg.attachments] == [{**defaults, **e} for e in expected]
    assert msg.text == fields.get("caption", "")
    # python-telegram-bot finds the same media (for a photo: the list of its sizes).
    theirs = ptb(body).message.effective_attachment
    if isinstance(theirs, tuple):
        assert msg.attachments[0].file_id in {size.file_id for size in theirs}
    elif hasattr(theirs, "file_id"):
        assert msg.attachments[0].file_id == theirs.file_id
    else:
        assert theirs.to_dict()  # Location or Venue


def test_media_messages_are_routed(tg):
    body = update(message=message(text=None, photo=PHOTO, caption="Screenshot 🖼"))
    assert tg.deliver(tg.app_id, body, HEADERS).json["messages"][0]["outcome"] == "routed"


# --- callback queries -------------------------------------------------------------------------

KEYBOARD = {"inline_keyboard": [[{"text": "✅ Freigeben", "callback_data": "approve:run-42"},
                                  {"text": "❌ Ablehnen", "callback_data": "reject:run-42"}]]}


def callback(data="approve:run-42", bot_message=None, **fields):
    query = {"id": "4382bfdwdsb323b2d9", "from": USER, "chat_instance": "-7592837465928374",
             "message": bot_message or message(1370, "Deployment run-42 freigeben?", sender=BOT,
                                               reply_markup=KEYBOARD),
             "data": data}
    query.update(fields)
    return {key: value for key, value in query.items() if value is not None}


def test_callback_query_is_an_action():
    body = update(30000, callback_query=callback())
    msg = only(body)
    assert (msg.kind, msg.action_id, msg.action_value) == ("action", "approve:run-42",
                                                           "approve:run-42")
    assert msg.text == "✅ Freigeben"
    assert (msg.sender_id, msg.chat_id, msg.thread_id) == ("123456789", "123456789",
                                                           "123456789:1370")
    assert msg.platform_message_id == "4382bfdwdsb323b2d9" == msg.extra["callback_query_id"]
    assert msg.reply_to == "123456789:1370"  # the message that carries the button
    assert msg.dedupe_key == "30000" and msg.sent_at == DATE + 5.0
    assert ptb(body).callback_query.data == msg.action_value


def test_a_button_press_is_threaded_on_the_button_message_not_on_what_it_replied_to():
    bot_message = message(1370, "Freigeben?", sender=BOT, reply_markup=KEYBOARD,
                          reply_to_message=message(1369, "Bitte run-42 deployen"))
    assert only(update(callback_query=callback(bot_message=bot_message))).thread_id == (
        "123456789:1370")


def test_callback_in_a_forum_topic_is_in_the_topic():
    bot_message = message(95, "Ticket schließen?", chat=FORUM, sender=BOT, message_thread_id=77,
                          is_topic_message=True, reply_markup=KEYBOARD)
    msg = only(update(callback_query=callback("reject:run-42", bot_message)))
    assert msg.chat_id == "-1009876543210" and msg.thread_id == "-1009876543210:77"
    assert msg.text == "❌ Ablehnen" and msg.reply_to == "-1009876543210:95"
    assert msg.extra["is_topic_message"] is True


def test_callback_on_an_inline_message_has_the_presser_as_chat():
    msg = only(update(callback_query={"id": "99", "from": USER, "chat_instance": "-1",
                                      "inline_message_id": "AAAAAJxyz", "data": "vote:yes"}))
    assert (msg.chat_id, msg.thread_id, msg.text, msg.reply_to) == ("123456789", None, "", None)
    assert msg.extra["inline_message_id"] == "AAAAAJxyz"


def test_callback_on_an_inaccessible_message_still_has_its_chat():
    old = {"chat": PRIVATE, "message_id": 12, "date": 0}
    msg = only(update(callback_query=callback(bot_message=old)))
    assert msg.chat_id == "123456789" and msg.thread_id == "123456789:12" and msg.text == ""


def test_game_button_action_is_the_game():
    msg = only(update(callback_query=callback(data=None, game_short_name="snake")))
    assert (msg.action_id, msg.action_value) == ("snake", None)


def test_callback_answers_the_waiting_agent(tg):
    waitbox = tg.open_waitbox(tg.app_id, tg.contact, reference="approval run-42")
    response = tg.deliver(tg.app_id, update(30001, callback_query=callback()), HEADERS)
    assert response.json["messages"] == [{"outcome": "routed", "handler": "waitbox"}]
    answered = tg.waitbox(waitbox)
    assert answered["status"] == "answered"
    assert answered["message"]["kind"] == "action"
    assert answered["message"]["action_value"] == "approve:run-42"
    assert answered["message"]["text"] == "✅ Freigeben"


def test_a_thread_bound_waitbox_takes_the_button_press_on_its_question(tg):
    elsewhere = tg.open_waitbox(tg.app_id, tg.contact, thread_id="123456789:999")
    on_question = tg.open_waitbox(tg.app_id, tg.contact, thread_id="123456789:1370")
    response = tg.deliver(tg.app_id, update(30002, callback_query=callback()), HEADERS)
    assert response.json["messages"][0]["handler"] == "waitbox"
    assert tg.waitbox(on_question)["status"] == "answered"
    assert tg.waitbox(elsewhere)["status"] == "waiting"
    reply = update(30003, message=message(1371, "Doch nicht.", reply_to_message=message(
        999, "Andere Frage?", sender=BOT)))
    assert tg.deliver(tg.app_id, reply, HEADERS).json["messages"][0]["handler"] == "waitbox"
    assert tg.waitbox(elsewhere)["status"] == "answered"


# --- dedupe -----------------------------------------------------------------------------------

def test_update_ids_dedupe_by_membership_not_by_order(tg):
    def send(update_id, text):
        body = update(update_id, message=message(update_id % 1000, text))
        return tg.deliver(tg.app_id, body, HEADERS).json["messages"][0]["outcome"]

    assert send(500000, "erste") == "routed"
    # After a week of silence Telegram's next id is random, and may well be lower.
    assert send(123, "nach einer Woche Pause") == "routed"
    assert send(500000, "erste") == "duplicate"
    assert send(123, "nach einer Woche Pause") == "duplicate"
    assert send(500001, "weiter") == "routed"


# --- ignored and malformed --------------------------------------------------------------------

@pytest.mark.parametrize("fields,reason", [
    ({"my_chat_member": {"chat": GROUP, "from": USER, "date": DATE,
                         "old_chat_member": {"status": "left", "user": BOT},
                         "new_chat_member": {"status": "member", "user": BOT}}},
     "my_chat_member updates are not routed"),
    ({"chat_join_request": {"chat": GROUP, "from": USER, "user_chat_id": 123456789,
                            "date": DATE}}, "chat_join_request updates are not routed"),
    ({"poll": {"id": "5", "question": "Pizza? 🍕", "options": [], "total_voter_count": 3,
               "is_closed": False, "is_anonymous": True, "type": "regular",
               "allows_multiple_answers": False}}, "poll updates are not routed"),
    ({"inline_query": {"id": "8", "from": USER, "query": "wetter", "offset": ""}},
     "inline_query updates are not routed"),
    ({"message": message(text=None, chat=GROUP, new_chat_members=[USER],
                         new_chat_member=USER, new_chat_participant=USER)},
     "message without text or a supported attachment (new_chat_member, new_chat_members"),
    ({"message": message(text=None, chat=GROUP, pinned_message=message(1))},
     "(pinned_message)"),
    ({"message": message(text=None, dice={"emoji": "🎲", "value": 4})}, "(dice)"),
    ({"message": message(text="", chat=GROUP)}, "(text)"),
    ({"message": message(sender=BOT, chat=GROUP)}, "message from a bot"),
    ({"callback_query": callback(data=None)}, "callback_query without data"),
    ({}, "an Update with no content"),
    ({"Message\u0000": {"text": "x"}}, "an Update of an unknown type"),
    ({"message": None}, "an Update with no content"),
])
def test_other_updates_are_ignored_with_a_reason(tg, fields, reason):
    body = update(**fields)
    response = tg.deliver(tg.app_id, body, HEADERS)
    assert response.status_code == 200 and response.json["messages"] == []
    [entry] = tg.ledger()
    assert entry["outcome"] == "accepted"
    assert reason in entry["reason"]


@pytest.mark.parametrize("body,reason", [
    (b"update_id=1", "not valid JSON"),
    (b"", "not valid JSON"),
    (b'{"update_id": 1, "message": {"text": "\xff\xfe"}}', "not UTF-8"),
    (b"[" * 100000, "not valid JSON"),
    (b'[{"update_id": 1}]', "JSON object"),
    (b'"update"', "JSON object"),
    (b"null", "JSON object"),
    (update(None, message=message()), "has no update_id"),
    (json.dumps({"message": message()}).encode(), "has no update_id"),
    (update("10000", message=message()), "update_id must be an integer"),
    (update(True, message=message()), "update_id must be an integer"),
    (update(1.5, message=message()), "update_id must be an integer"),
    (update(message="hello"), "message must be an object"),
    (update(message={k: v for k, v in message().items() if k != "chat"}), "message has no chat"),
    (update(message=message(chat={"type": "private"})), "message.chat has no id"),
    (update(message=message(chat={**PRIVATE, "id": "123"})), "chat.id must be an integer"),
    (update(message={k: v for k, v in message().items() if k != "message_id"}),
     "message has no message_id"),
    (update(message={k: v for k, v in message().items() if k != "date"}), "message has no date"),
    (update(message=message(sender=None)), "neither from nor sender_chat"),
    (update(message=message(sender={**USER, "id": None})), "message.from has no id"),
    (update(message=message(text=["list"])), "message.text must be a string"),
    (update(message=message(message_thread_id="7")), "message_thread_id must be an integer"),
    (update(message=message(text=None, photo=[])), "non-empty list"),
    (update(message=message(text=None, photo="AgAC")), "non-empty list"),
    (update(message=message(text=None, voice={"duration": 3})), "message.voice has no valid"),
    (update(message=message(text=None, document=[1])), "document must be an object"),
    (update(message=message(text=None, location={"latitude": "50.9", "longitude": 6.9})),
     "latitude must be a number"),
    (b'{"update_id": 4, "message": {"message_id": 1, "date": 1, "chat": {"id": 5}, '
     b'"from": {"id": 5}, "location": {"latitude": NaN, "longitude": Infinity}}}',
     "NaN is not a JSON number"),  # refused as JSON (orqo.adapters.load_json), not as a field
    (update(edited_channel_post=message(sender=None, chat=CHANNEL, sender_chat={"title": "x"})),
     "sender_chat has no id"),
    (update(callback_query={"id": "1", "data": "x"}), "callback_query has no from"),
    (update(callback_query={"from": USER, "data": "x"}), "callback_query has no valid id"),
    (update(callback_query=callback(bot_message={"message_id": 3, "date": 0})),
     "callback_query.message has no chat"),
    (update(2 ** 70, message=message()), "update_id is out of range"),
    (update(message=message(chat={**PRIVATE, "id": -10 ** 30})), "chat.id is out of range"),
    (update(message=message(date=10 ** 400)), "message.date is out of range"),
    (update(message=message(text="NUL \u0000 im Text")), "NUL character"),
    (b'{"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": 5}, '
     b'"from": {"id": 5, "first_name": "\\ud800"}, "text": "hi"}}', "unpaired surrogate"),
    (json.dumps({"update_id": 3, "callback_query": callback(data="ok\udfff")}).encode(),
     "unpaired surrogate"),
])
def test_malformed_bodies_are_400_with_a_clear_reason(tg, body, reason):
    response = tg.deliver(tg.app_id, body, HEADERS)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert reason in response.json["error"]["message"]
    [entry] = tg.ledger()
    assert entry["outcome"] == "malformed"


def test_every_sample_payload_is_a_valid_update_for_python_telegram_bot():
    samples = [update(message=message()), update(callback_query=callback()),
               update(channel_post=message(sender=None, chat=CHANNEL, sender_chat=CHANNEL)),
               update(message=message(text=None, photo=PHOTO, caption="x"))]
    for body in samples:
        parsed = ptb(body)
        assert parsed.update_id == 10000
        assert str(parsed.effective_chat.id) == only(body).chat_id


def test_a_callback_query_is_dated_when_orqo_received_it():
    # A CallbackQuery has no date field; redeliveries keep their dedupe key all the same.
    body = update(callback_query=callback())
    first, later = parse(body, received_at=DATE + 1), parse(body, received_at=time.time())
    assert first.messages[0].sent_at == DATE + 1
    assert first.messages[0].dedupe_key == later.messages[0].dedupe_key == "10000"
