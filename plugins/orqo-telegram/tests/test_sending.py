"""The Telegram adapter's send stage (``sendMessage``) against the Bot API's real answers.

requests-mock stands in for the Bot API at a loopback ``api_base_url``: nothing leaves the
machine. The answers are the shapes telegram-bot-api's server sends (``{"ok": true, "result":
<Message>}``, ``{"ok": false, "error_code", "description", "parameters"}``) and what its nginx
front end sends when the server is away (a 502 HTML page).
"""
import json

import orqo_telegram
import pytest
import requests
from orqo_telegram import TelegramAdapter
from orqo_telegram.updates import parse_update

from orqo.deadlines import make_session
from orqo.extensions import db
from orqo.models import Waitbox
from orqo.outbound import Http
from orqo.stages import SendRequest
from orqo.testing import Harness
from orqo.testing.signers import telegram_headers

TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET_PART = TOKEN.split(":")[1]
WEBHOOK_SECRET = "Tg_webhook-secret_0123456789"
BASE = "http://127.0.0.1:8081"
URL = f"{BASE}/bot{TOKEN}/sendMessage"
DATE = 1717171717
TEXT = "Die Freigabe ist erteilt ✅ — schönen Abend!"

USER = {"id": 123456789, "is_bot": False, "first_name": "Zoë", "last_name": "Ångström",
        "username": "zoe_a", "language_code": "de"}
PRIVATE = {"id": 123456789, "first_name": "Zoë", "last_name": "Ångström", "username": "zoe_a",
           "type": "private"}
GROUP = {"id": -1001234567890, "title": "Ops 🚀 Team", "type": "supergroup"}
OLD_GROUP = {"id": -4012345678, "title": "Ops 🚀 Team", "type": "group"}
FORUM = {"id": -1009876543210, "title": "Support Desk", "is_forum": True, "type": "supergroup"}
BOT = {"id": 7000000001, "is_bot": True, "first_name": "ORQO", "username": "orqo_bot"}


def inbound(update_id=10000, **fields):
    """The normalised message orqo makes of an Update (what a send's in_reply_to comes from)."""
    [message] = parse_update({"update_id": update_id, **fields}, "telegram", DATE + 5).messages
    return message


def message(message_id, text, chat=PRIVATE, sender=USER, **fields):
    """A Message object as the Bot API sends it."""
    return {"message_id": message_id, "from": sender, "chat": chat, "date": DATE, "text": text,
            **fields}


def replying_to(msg) -> dict:
    """``in_reply_to`` as the worker gives it for a received message."""
    return {"platform_message_id": msg.platform_message_id, "chat_id": msg.chat_id,
            "thread_id": msg.thread_id, "extra": msg.extra}


def send_request(credentials=None, config=None, **fields) -> SendRequest:
    credentials, config = TelegramAdapter.validate_settings(
        {"TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET, "TELEGRAM_BOT_TOKEN": TOKEN}
        if credentials is None else credentials, {"api_base_url": BASE, **(config or {})})
    fields = {"recipient": "123456789", "text": TEXT, **fields}
    return SendRequest(app_id="AppTelegram01", adapter="telegram", credentials=credentials,
                       config=config, message_id=42, **fields)


def send(request=None, **fields):
    return TelegramAdapter().send(request or send_request(**fields),
                                  Http(make_session(), seconds=5))


def ok(result) -> dict:
    return {"json": {"ok": True, "result": result}}


def error(status, description, **parameters) -> dict:
    body = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return {"status_code": status, "json": body}


def sent(message_id, chat=PRIVATE, text=TEXT, **fields) -> dict:
    """The Message Telegram returns for a message the bot sent."""
    return message(message_id, text, chat=chat, sender=BOT, **fields)


def assert_token_kept_out(result):
    assert TOKEN not in repr(result) and SECRET_PART not in repr(result)


# --- what is sent -----------------------------------------------------------------------------

def test_a_message_to_a_private_chat(requests_mock):
    api = requests_mock.post(URL, **ok(sent(1371)))
    result = send()
    assert (result.status, result.platform_message_id, result.reply_key) == (
        "sent", "123456789:1371", "123456789:1371")
    assert (result.chat_id, result.thread_id, result.reason) == ("123456789", None, "")
    [call] = api.request_history
    assert call.url == URL  # the token in the path, as the Bot API wants it
    assert call.headers["Content-Type"] == "application/json; charset=utf-8"
    assert call.json() == {"chat_id": 123456789, "text": TEXT}


def test_a_chat_named_by_username_is_sent_as_is(requests_mock):
    api = requests_mock.post(URL, **ok(sent(5, chat={"id": -1001112223334, "type": "channel",
                                                     "title": "Release Notes 📣",
                                                     "username": "release_notes"})))
    result = send(chat_id="@release_notes")
    assert api.last_request.json()["chat_id"] == "@release_notes"
    # The result names the chat by its id, as the parse stage does.
    assert (result.chat_id, result.platform_message_id) == ("-1001112223334",
                                                            "-1001112223334:5")


def test_a_trailing_slash_in_the_base_url_is_dropped(requests_mock):
    api = requests_mock.post(URL, **ok(sent(1371)))
    assert send(config={"api_base_url": BASE + "/"}).status == "sent"
    assert api.called_once


def test_a_reply_quotes_the_message_and_its_answer_comes_back_to_it(requests_mock):
    question = inbound(message=message(1366, "Kann ich run-42 deployen?"))
    replied = sent(1371, reply_to_message=message(1366, "Kann ich run-42 deployen?"))
    api = requests_mock.post(URL, **ok(replied))
    result = send(in_reply_to=replying_to(question))
    assert api.last_request.json() == {
        "chat_id": 123456789, "text": TEXT,
        "reply_parameters": {"message_id": 1366, "allow_sending_without_reply": True}}
    assert (result.platform_message_id, result.thread_id) == ("123456789:1371",
                                                              "123456789:1366")
    # The Contact answers the agent's message: the parse stage points back at the reply key.
    answer = inbound(10001, message=message(1372, "Ja!", reply_to_message=replied))
    assert answer.reply_to == result.reply_key == result.platform_message_id


def test_a_reply_goes_to_the_chat_of_the_message_it_answers(requests_mock):
    question = inbound(message=message(4711, "Wer hat Dienst?", chat=GROUP))
    api = requests_mock.post(URL, **ok(sent(4712, chat=GROUP)))
    result = send(in_reply_to=replying_to(question))
    assert api.last_request.json()["chat_id"] == -1001234567890
    assert "message_thread_id" not in api.last_request.json()
    assert result.chat_id == "-1001234567890"


def test_a_reply_sent_to_another_chat_names_the_chat_it_quotes(requests_mock):
    question = inbound(message=message(4711, "Wer hat Dienst?", chat=GROUP))
    api = requests_mock.post(URL, **ok(sent(1371)))
    send(chat_id="123456789", in_reply_to=replying_to(question))
    assert api.last_request.json() == {
        "chat_id": 123456789, "text": TEXT,
        "reply_parameters": {"message_id": 4711, "allow_sending_without_reply": True,
                             "chat_id": -1001234567890}}


def test_a_reply_in_a_forum_topic_stays_in_the_topic(requests_mock):
    created = message(77, None, chat=FORUM, message_thread_id=77, is_topic_message=True,
                      forum_topic_created={"name": "Login-Probleme", "icon_color": 7322096})
    question = inbound(message=message(90, "Der Login klappt nicht 😕", chat=FORUM,
                                       message_thread_id=77, is_topic_message=True,
                                       reply_to_message=created))
    replied = sent(96, chat=FORUM, message_thread_id=77, is_topic_message=True,
                   reply_to_message=message(90, "Der Login klappt nicht 😕", chat=FORUM,
                                            message_thread_id=77, is_topic_message=True))
    api = requests_mock.post(URL, **ok(replied))
    result = send(in_reply_to=replying_to(question))
    assert api.last_request.json() == {
        "chat_id": -1009876543210, "text": TEXT, "message_thread_id": 77,
        "reply_parameters": {"message_id": 90, "allow_sending_without_reply": True}}
    # What the parse stage would give the sent message: the topic, chat-qualified.
    assert (result.platform_message_id, result.thread_id) == ("-1009876543210:96",
                                                              "-1009876543210:77")
    assert result.thread_id == question.thread_id


def test_a_reply_chain_in_a_plain_supergroup_sends_no_thread(requests_mock):
    question = inbound(message=message(4711, "Ich?", chat=GROUP, message_thread_id=4700,
                                       reply_to_message=message(4700, "Wer?", chat=GROUP)))
    api = requests_mock.post(URL, **ok(sent(4712, chat=GROUP)))
    send(in_reply_to=replying_to(question))
    assert "message_thread_id" not in api.last_request.json()
    assert api.last_request.json()["reply_parameters"]["message_id"] == 4711


def test_a_button_press_is_answered_under_the_button_message(requests_mock):
    keyboard = {"inline_keyboard": [[{"text": "✅ Freigeben", "callback_data": "approve"}]]}
    press = inbound(callback_query={
        "id": "4382bfdwdsb323b2d9", "from": USER, "chat_instance": "-7592837465928374",
        "data": "approve", "message": message(1370, "Freigeben?", sender=BOT,
                                              reply_markup=keyboard)})
    api = requests_mock.post(URL, **ok(sent(1371)))
    send(in_reply_to=replying_to(press))
    assert api.last_request.json()["reply_parameters"] == {
        "message_id": 1370, "allow_sending_without_reply": True}


def test_a_reply_to_a_message_stored_without_extra_reads_its_id(requests_mock):
    api = requests_mock.post(URL, **ok(sent(1371)))
    send(in_reply_to={"platform_message_id": "123456789:1366", "chat_id": "123456789",
                      "thread_id": None, "extra": {}})
    assert api.last_request.json()["reply_parameters"]["message_id"] == 1366


def test_an_inline_button_press_has_no_message_to_quote(requests_mock):
    press = inbound(callback_query={"id": "99", "from": USER, "chat_instance": "-1",
                                    "inline_message_id": "AAAAAJxyz", "data": "vote:yes"})
    api = requests_mock.post(URL, **ok(sent(1371)))
    send(in_reply_to=replying_to(press))
    assert api.last_request.json() == {"chat_id": 123456789, "text": TEXT}


# --- what the answer means --------------------------------------------------------------------

def test_a_rate_limit_is_retried_after_the_seconds_telegram_asks_for(requests_mock):
    requests_mock.post(URL, **error(429, "Too Many Requests: retry after 5", retry_after=5))
    result = send()
    assert (result.status, result.retry_after) == ("retry", 5.0)
    assert result.reason == "HTTP 429: Too Many Requests: retry after 5"


def test_a_rate_limit_without_parameters_falls_back_to_retry_after(requests_mock):
    requests_mock.post(URL, status_code=429, headers={"Retry-After": "7"},
                       json={"ok": False, "error_code": 429, "description": "Too Many Requests"})
    result = send()
    assert (result.status, result.retry_after) == ("retry", 7.0)


BAD_GATEWAY = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center>"
               "<h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
               "</body>\r\n</html>\r\n")


@pytest.mark.parametrize("answer,reason", [
    ({"status_code": 502, "text": BAD_GATEWAY, "headers": {"Content-Type": "text/html"}},
     "HTTP 502: <html> <head><title>502 Bad Gateway</title>"),
    (error(500, "Internal Server Error: restart"), "HTTP 500: Internal Server Error: restart"),
    ({"status_code": 200, "text": "<html><body>Anmeldung erforderlich</body></html>"},
     "an answer that is not Telegram's: HTTP 200: <html>"),
    ({"json": {"ok": True, "result": True}}, "has no sent message"),
    ({"json": {"ok": True, "result": {"message_id": 5}}}, "has no sent message"),
    ({"status_code": 302, "headers": {"Location": "http://127.0.0.1:9/"}, "text": ""},
     "an answer that is not Telegram's: HTTP 302"),
])
def test_trouble_and_unreadable_answers_are_retried(requests_mock, answer, reason):
    requests_mock.post(URL, **answer)
    result = send()
    assert (result.status, result.retry_after) == ("retry", None)
    assert reason in result.reason
    assert_token_kept_out(result)


@pytest.mark.parametrize("answer,reason", [
    (error(400, "Bad Request: chat not found"), "HTTP 400: Bad Request: chat not found"),
    (error(400, "Bad Request: message thread not found"),
     "HTTP 400: Bad Request: message thread not found"),
    (error(400, "Bad Request: message is too long"), "HTTP 400: Bad Request: message is too long"),
    (error(403, "Forbidden: bot was blocked by the user"),
     "HTTP 403: Forbidden: bot was blocked by the user"),
    (error(403, "Forbidden: user is deactivated"), "HTTP 403: Forbidden: user is deactivated"),
    (error(403, "Forbidden: bot was kicked from the supergroup chat"),
     "HTTP 403: Forbidden: bot was kicked from the supergroup chat"),
    (error(401, "Unauthorized"), "the bot token was refused (HTTP 401: Unauthorized)"),
    (error(404, "Not Found"), "the bot token was refused (HTTP 404: Not Found)"),
    ({"status_code": 400, "text": "bad"}, "HTTP 400: bad"),
    # A 200 that says it failed is taken by its error code.
    ({"json": {"ok": False, "error_code": 403, "description": "Forbidden: user is deactivated"}},
     "HTTP 403: Forbidden: user is deactivated"),
])
def test_permanent_errors_fail_with_telegrams_reason(requests_mock, answer, reason):
    requests_mock.post(URL, **answer)
    result = send()
    assert (result.status, result.reason) == ("failed", reason)
    assert_token_kept_out(result)


def test_a_group_that_became_a_supergroup_is_sent_to_in_its_new_chat(requests_mock):
    api = requests_mock.post(URL, [
        error(400, "Bad Request: group chat was upgraded to a supergroup chat",
              migrate_to_chat_id=-1001234567890),
        ok(sent(1, chat=GROUP))])
    result = send(chat_id="-4012345678")
    assert [call.json()["chat_id"] for call in api.request_history] == [-4012345678,
                                                                         -1001234567890]
    assert (result.status, result.chat_id, result.platform_message_id) == (
        "sent", "-1001234567890", "-1001234567890:1")
    assert result.meta == {"migrated_from_chat_id": "-4012345678",
                           "migrated_to_chat_id": "-1001234567890"}


def test_a_move_is_followed_once(requests_mock):
    moved = error(400, "Bad Request: group chat was upgraded to a supergroup chat",
                  migrate_to_chat_id=-1001234567890)
    api = requests_mock.post(URL, [moved, {**moved, "json": {
        **moved["json"], "parameters": {"migrate_to_chat_id": -1005555555555}}}])
    result = send(chat_id="-4012345678")
    assert result.status == "failed" and "moved twice" in result.reason
    assert api.call_count == 2
    requests_mock.post(URL, [moved, error(403, "Forbidden: bot was kicked from the supergroup "
                                               "chat")])
    result = send(chat_id="-4012345678")
    assert result.reason == "HTTP 403: Forbidden: bot was kicked from the supergroup chat"
    requests_mock.post(URL, **{**moved, "json": {**moved["json"], "parameters": {
        "migrate_to_chat_id": -4012345678}}})
    result = send(chat_id="-4012345678")
    assert result.status == "failed" and "to itself" in result.reason


# --- the token --------------------------------------------------------------------------------

def test_without_a_bot_token_nothing_is_sent(requests_mock):
    api = requests_mock.post(URL, **ok(sent(1)))
    result = send(send_request(credentials={"TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}))
    assert result.status == "failed"
    assert result.reason.startswith("the App has no TELEGRAM_BOT_TOKEN")
    assert not api.called


@pytest.mark.parametrize("answer", [
    {"status_code": 404, "text": f"<p>The requested URL /bot{TOKEN}/sendMessage was not found "
                                 "on this server.</p>"},
    {"status_code": 502, "text": f"upstream failed for /bot{TOKEN.replace(':', '%3A')}/x"},
    error(400, f"Bad Request: token {SECRET_PART} echoed"),
    {"status_code": 200, "text": f"https://127.0.0.1:8081/bot{TOKEN}/sendMessage"},
])
def test_the_token_never_appears_in_a_reason_even_when_the_answer_quotes_it(requests_mock,
                                                                            answer):
    requests_mock.post(URL, **answer)
    result = send()
    assert result.status in ("retry", "failed") and result.reason
    assert_token_kept_out(result)
    assert "<TELEGRAM_BOT_TOKEN>" in result.reason


def test_a_network_error_is_raised_without_the_token(requests_mock):
    requests_mock.post(URL, exc=requests.ConnectionError(
        f"BoundedHTTPPool(host='127.0.0.1', port=8081): Max retries exceeded with url: "
        f"/bot{TOKEN}/sendMessage (Caused by NewConnectionError('refused'))"))
    with pytest.raises(requests.ConnectionError) as raised:
        send()
    assert SECRET_PART not in str(raised.value) and "Max retries exceeded" in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_a_network_error_without_the_token_is_raised_as_is(requests_mock):
    timeout = requests.Timeout("no answer within the deadline of 5 s")
    requests_mock.post(URL, exc=timeout)
    with pytest.raises(requests.Timeout) as raised:
        send()
    assert raised.value is timeout


# --- the adapter's settings -------------------------------------------------------------------

def test_sending_settings():
    assert TelegramAdapter.send_interval == 1.0 and TelegramAdapter.max_text_length == 4096
    _, config = TelegramAdapter.validate_settings({"TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}, {})
    assert config["api_base_url"] == "https://api.telegram.org"
    assert TelegramAdapter.can_send(config)
    assert TelegramAdapter.credentials_destination(config) == "https://api.telegram.org:443"
    assert TelegramAdapter.credentials_destination({**config, "api_base_url": BASE}) == BASE
    with pytest.raises(Exception) as refused:
        TelegramAdapter.validate_settings({"TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET},
                                          {"api_base_url": f"https://x@127.0.0.1/bot{TOKEN}?"})
    assert "api_base_url" in refused.value.messages["config"]


# --- the round trip through orqo --------------------------------------------------------------

def test_the_answer_to_a_sent_question_lands_in_the_waitbox_bound_to_it(make_app,
                                                                       requests_mock):
    app = make_app(plugins=[orqo_telegram])
    tg = Harness(app)
    app_id = tg.add_app("telegram", {"TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
                                     "TELEGRAM_BOT_TOKEN": TOKEN}, {"api_base_url": BASE})
    contact = tg.add_contact({app_id: "123456789"})
    requests_mock.post(URL, **ok(sent(1371, text="Soll ich run-42 deployen?")))
    result = send(text="Soll ich run-42 deployen?")
    older = tg.open_waitbox(app_id, contact, reference="an older question")
    bound = tg.open_waitbox(app_id, contact, reference="run-42")
    with app.app_context():
        db.session.get(Waitbox, bound).reply_key = result.reply_key
        db.session.commit()
    answer = json.dumps({"update_id": 50000, "message": message(
        1372, "Ja, los! 🚀", reply_to_message=sent(1371, text="Soll ich run-42 deployen?"))},
        ensure_ascii=False).encode()
    response = tg.deliver(app_id, answer, telegram_headers(WEBHOOK_SECRET))
    assert response.json["messages"] == [{"outcome": "routed", "handler": "waitbox"}]
    assert tg.waitbox(bound)["status"] == "answered"
    assert tg.waitbox(bound)["message"]["text"] == "Ja, los! 🚀"
    assert tg.waitbox(older)["status"] == "waiting"
