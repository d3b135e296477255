"""The send stage: chat.postMessage requests, and what Slack's answers become.

Slack's answers are shaped as Slack's reference and python-slack-sdk's mock API server show
them (success, HTTP 429 ``ratelimited`` with ``retry-after``, ``ok: false`` with an error code
at HTTP 200). requests-mock stands in for Slack; the API base URL is a loopback address.
"""
import pytest
import requests
import orqo_slack
from orqo_slack.testing import BOT_TOKEN
from orqo_slack.testing import DM
from orqo_slack.testing import SECRET
from orqo_slack.testing import SENDER
from orqo_slack.testing import USER
from orqo_slack.testing import block_actions
from orqo_slack.testing import encode
from orqo_slack.testing import envelope
from orqo_slack.testing import form
from orqo_slack.testing import message_event
from orqo_slack.testing import posted

from orqo.deadlines import make_session
from orqo.outbound import Http
from orqo.stages import SendRequest

BASE = "http://127.0.0.1:9/api"
POST_MESSAGE = f"{BASE}/chat.postMessage"
CHANNEL = "C0GENERAL1"
SLACK_JSON = {"Content-Type": "application/json; charset=utf-8"}
ROOT_TS = "1717171717.000200"
REPLY_TS = "1717171900.000400"
SENT_TS = "1717172000.000600"
adapter = orqo_slack.SlackAdapter()


def send_request(text="Der Bericht ist fertig ✅", credentials=None, config=None, **fields):
    credentials, config = adapter.validate_settings(
        credentials or {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN},
        config or {"api_base_url": BASE})
    return SendRequest(app_id="A1", adapter="slack", credentials=credentials, config=config,
                       message_id=4711, recipient=fields.pop("recipient", SENDER), text=text,
                       **fields)


def send(request):
    return adapter.send(request, Http(make_session(), seconds=5))


def answer(requests_mock, status=200, json=None, text=None, headers=None):
    """Slack's answer to the next chat.postMessage."""
    if json is not None:
        requests_mock.post(POST_MESSAGE, status_code=status, json=json,
                           headers={**SLACK_JSON, **(headers or {})})
    else:
        requests_mock.post(POST_MESSAGE, status_code=status, text=text or "",
                           headers=headers or {"Content-Type": "text/html"})


def test_a_message_to_a_contact_goes_to_their_dm(requests_mock):
    answer(requests_mock, json=posted(DM, SENT_TS, "Der Bericht ist fertig ✅"))
    result = send(send_request())
    [call] = requests_mock.request_history
    assert call.url == POST_MESSAGE
    assert call.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.json() == {
        "channel": USER, "text": "Der Bericht ist fertig ✅",
        "metadata": {"event_type": "orqo_message", "event_payload": {"orqo_message_id": 4711}}}
    assert (result.status, result.platform_message_id, result.chat_id) == ("sent", SENT_TS, DM)
    assert (result.thread_id, result.reply_key) == (None, SENT_TS)
    assert result.meta == {}


def test_a_reply_goes_into_the_thread_of_the_message_it_answers(requests_mock):
    answer(requests_mock, json=posted(CHANNEL, SENT_TS, thread_ts=ROOT_TS))
    original = {"platform_message_id": REPLY_TS, "chat_id": CHANNEL, "thread_id": ROOT_TS,
                "extra": {"ts": REPLY_TS, "channel_type": "channel"}}
    result = send(send_request(in_reply_to=original))
    body = requests_mock.last_request.json()
    # Slack wants the parent's ts, never a reply's.
    assert (body["channel"], body["thread_ts"]) == (CHANNEL, ROOT_TS)
    assert (result.status, result.platform_message_id, result.chat_id) == ("sent", SENT_TS,
                                                                          CHANNEL)
    assert (result.thread_id, result.reply_key) == (ROOT_TS, ROOT_TS)


def test_a_reply_to_a_message_outside_a_thread_starts_one_under_it(requests_mock):
    answer(requests_mock, json=posted(DM, SENT_TS, thread_ts=ROOT_TS))
    original = {"platform_message_id": ROOT_TS, "chat_id": DM, "thread_id": None, "extra": {}}
    result = send(send_request(in_reply_to=original))
    assert requests_mock.last_request.json()["thread_ts"] == ROOT_TS
    assert requests_mock.last_request.json()["channel"] == DM
    assert (result.thread_id, result.reply_key) == (ROOT_TS, ROOT_TS)


def test_a_reply_to_a_button_press_goes_under_the_message_with_the_button(requests_mock):
    answer(requests_mock, json=posted(DM, SENT_TS, thread_ts="1717171800.000300"))
    press = {"platform_message_id": "1717171830.123456", "chat_id": DM, "thread_id": None,
             "extra": {"message_ts": "1717171800.000300", "action_type": "button"}}
    send(send_request(in_reply_to=press))
    assert requests_mock.last_request.json()["thread_ts"] == "1717171800.000300"


def test_the_request_chat_wins_over_the_reply_and_the_recipient(requests_mock):
    answer(requests_mock, json=posted("C0OTHER001", SENT_TS))
    original = {"platform_message_id": ROOT_TS, "chat_id": DM, "thread_id": None, "extra": {}}
    send(send_request(chat_id="C0OTHER001", in_reply_to=original))
    assert requests_mock.last_request.json()["channel"] == "C0OTHER001"


def test_a_trailing_slash_on_the_base_url_is_dropped(requests_mock):
    answer(requests_mock, json=posted(DM, SENT_TS))
    send(send_request(config={"api_base_url": BASE + "/"}))
    assert requests_mock.last_request.url == POST_MESSAGE


def test_slacks_warnings_are_kept(requests_mock):
    document = posted(DM, SENT_TS)
    document["response_metadata"] = {
        "warnings": ["message_truncated"],
        "messages": ["[WARN] Your message was truncated but still posted."]}
    answer(requests_mock, json=document)
    assert send(send_request()).meta == {"slack_warnings": ["message_truncated"]}


def test_a_rate_limit_is_retried_after_slacks_wait(requests_mock):
    answer(requests_mock, status=429, json={"ok": False, "error": "ratelimited"},
           headers={"Retry-After": "30"})
    result = send(send_request())
    assert (result.status, result.retry_after) == ("retry", 30)
    assert "ratelimited" in result.reason


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "invalid_auth",
                                   "is_archived", "msg_too_long", "token_revoked",
                                   "missing_scope", "restricted_action_read_only_channel",
                                   "ekm_access_denied"])
def test_permanent_errors_fail_with_slacks_code(requests_mock, error):
    answer(requests_mock, json={"ok": False, "error": error})
    result = send(send_request())
    assert result.status == "failed"
    assert result.reason.startswith(f"Slack error {error}")
    assert BOT_TOKEN not in result.reason


def test_a_hint_says_what_to_do_about_not_in_channel(requests_mock):
    answer(requests_mock, json={"ok": False, "error": "not_in_channel"})
    assert "invite the App" in send(send_request()).reason


def test_an_unknown_error_code_fails_with_the_code(requests_mock):
    answer(requests_mock, json={"ok": False, "error": "some_new_error"})
    result = send(send_request())
    assert (result.status, result.reason) == ("failed", "Slack error some_new_error")


@pytest.mark.parametrize("error", ["fatal_error", "internal_error", "request_timeout"])
def test_slacks_own_trouble_is_retried(requests_mock, error):
    answer(requests_mock, json={"ok": False, "error": error})
    result = send(send_request())
    assert (result.status, result.retry_after) == ("retry", None)
    assert error in result.reason


@pytest.mark.parametrize("error", ["team_added_to_org", "org_login_required"])
def test_an_enterprise_migration_is_retried_much_later(requests_mock, error):
    answer(requests_mock, json={"ok": False, "error": error})
    result = send(send_request())
    assert (result.status, result.retry_after) == ("retry", 600.0)


def test_http_503_is_retried(requests_mock):
    answer(requests_mock, status=503, text="<html><body>Service Unavailable</body></html>")
    result = send(send_request())
    assert result.status == "retry"
    assert "HTTP 503" in result.reason


@pytest.mark.parametrize("text", ["<!DOCTYPE html><html><body>Sign in to the Wi-Fi</body></html>",
                                  ""])
def test_a_2xx_that_is_not_slacks_json_is_retried(requests_mock, text):
    answer(requests_mock, text=text)
    result = send(send_request())
    assert result.status == "retry"
    assert "without ok:true and a ts" in result.reason


def test_ok_true_without_a_ts_is_retried(requests_mock):
    answer(requests_mock, json={"ok": True, "channel": DM})
    assert send(send_request()).status == "retry"


def test_a_404_without_slacks_json_fails_and_points_at_the_base_url(requests_mock):
    answer(requests_mock, status=404, text="Not Found", headers={"Content-Type": "text/plain"})
    result = send(send_request())
    assert result.status == "failed"
    assert "HTTP 404" in result.reason and "api_base_url" in result.reason


def test_the_token_never_reaches_a_reason_even_when_echoed(requests_mock):
    answer(requests_mock, text=f"<html>Authorization: Bearer {BOT_TOKEN}</html>")
    result = send(send_request())
    assert BOT_TOKEN not in result.reason
    assert "[SLACK_BOT_TOKEN]" in result.reason


def test_without_a_bot_token_nothing_is_sent(requests_mock):
    result = send(send_request(credentials={"SLACK_SIGNING_SECRET": SECRET}))
    assert result.status == "failed"
    assert "SLACK_BOT_TOKEN" in result.reason
    assert requests_mock.request_history == []


@pytest.mark.parametrize("original", [
    {"platform_message_id": "not-a-ts", "chat_id": DM, "thread_id": None, "extra": {}},
    {"platform_message_id": None, "chat_id": DM, "thread_id": None, "extra": None},
])
def test_a_reply_to_something_without_a_slack_ts_fails_clearly(requests_mock, original):
    result = send(send_request(in_reply_to=original))
    assert result.status == "failed"
    assert "no Slack ts" in result.reason
    assert requests_mock.request_history == []


def test_no_chat_and_no_recipient_fails_clearly(requests_mock):
    result = send(send_request(recipient=""))
    assert (result.status, requests_mock.request_history) == ("failed", [])


def test_a_network_failure_is_left_to_the_worker(requests_mock):
    requests_mock.post(POST_MESSAGE, exc=requests.ConnectionError("connection refused"))
    with pytest.raises(requests.RequestException):
        send(send_request())


def test_the_adapter_declares_slacks_pace_limit_and_destination():
    assert orqo_slack.SlackAdapter.send_interval == 1.0
    assert orqo_slack.SlackAdapter.max_text_length == 40000
    _, config = adapter.validate_settings({"SLACK_SIGNING_SECRET": SECRET}, {})
    assert config["api_base_url"] == "https://slack.com/api"
    assert orqo_slack.SlackAdapter.can_send(config)
    assert orqo_slack.SlackAdapter.credentials_destination(config) == "https://slack.com:443"


# The reply key of a sent message and the reply_to of a person's answer must be the same string.

def _parsed(direct, body):
    [message] = direct.parse(body).messages
    return message


def test_an_answer_in_the_thread_of_a_sent_message_points_at_it(requests_mock, direct):
    answer(requests_mock, json=posted(DM, SENT_TS))
    sent = send(send_request())
    answer_event = message_event(text="Danke, passt so 👍", ts="1717172100.000700",
                                 thread_ts=SENT_TS, parent_user_id="U0BOTORQO")
    assert _parsed(direct, encode(envelope(answer_event))).reply_to == sent.reply_key


def test_an_answer_in_the_thread_a_reply_went_to_points_at_that_reply(requests_mock, direct):
    answer(requests_mock, json=posted(CHANNEL, SENT_TS, thread_ts=ROOT_TS))
    original = {"platform_message_id": ROOT_TS, "chat_id": CHANNEL, "thread_id": None,
                "extra": {}}
    sent = send(send_request(in_reply_to=original))
    answer_event = message_event(channel=CHANNEL, channel_type="channel",
                                 ts="1717172100.000700", thread_ts=ROOT_TS)
    assert _parsed(direct, encode(envelope(answer_event))).reply_to == sent.reply_key


def test_a_button_press_on_a_sent_message_points_at_it(requests_mock, direct):
    answer(requests_mock, json=posted(DM, SENT_TS))
    sent = send(send_request())
    press = block_actions(
        container={"type": "message", "message_ts": SENT_TS, "channel_id": DM,
                   "is_ephemeral": False},
        message={"type": "message", "user": "U0BOTORQO", "ts": SENT_TS, "bot_id": "B0ORQOBOT",
                 "text": "Lauf 4711 freigeben?"})
    assert _parsed(direct, form(press)).reply_to == sent.reply_key
