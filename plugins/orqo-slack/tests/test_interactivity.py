"""Interactivity deliveries: block_actions (button presses, menus) as messages of kind action."""
import dataclasses
import json
from urllib.parse import quote
from urllib.parse import urlencode

import pytest
from orqo_slack.testing import DM
from orqo_slack.testing import SENDER
from orqo_slack.testing import TEAM
from orqo_slack.testing import USER
from orqo_slack.testing import block_actions
from orqo_slack.testing import form
from orqo_slack.testing import signed

from orqo.schemas import MessageSchema


def only_message(result):
    [message] = result.messages
    MessageSchema().load(dataclasses.asdict(message))
    return message


def test_a_button_press_from_a_contact_is_routed_to_the_waiting_agent(slack):
    waitbox = slack.open_waitbox(slack.app_id, slack.contact_id, thread_id="1717171717.000200",
                                 reference="approval run 4711")
    body = form(block_actions())
    response = slack.deliver(slack.app_id, body, {
        **signed(body), "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "routed", "handler": "waitbox"}]
    [message] = slack.ledger()[0]["messages"]
    assert (message["kind"], message["sender_id"]) == ("action", SENDER)
    answered = slack.waitbox(waitbox)
    assert answered["status"] == "answered"
    assert answered["message"]["action_id"] == "approve"
    assert answered["message"]["action_value"] == "approve_run_4711"
    assert answered["message"]["thread_id"] == "1717171717.000200"


def test_a_button_press_is_normalised(direct):
    message = only_message(direct.parse(form(block_actions())))
    assert message.kind == "action"
    assert message.action_id == "approve"
    assert message.action_value == "approve_run_4711"
    assert message.text == "approve_run_4711"
    assert message.sender_id == f"{TEAM}:{USER}"
    assert message.sender_name == "ada"
    assert message.chat_id == DM
    assert message.thread_id == "1717171717.000200"
    # The button's message sits in the thread rooted at 1717171717.000200.
    assert message.reply_to == "1717171717.000200"
    assert message.platform_message_id == "1717171830.123456"
    assert message.sent_at == 1717171830.123456
    assert message.dedupe_key == (
        "7123456789012.17653672481.0a1b2c3d4e5f60718293a4b5c6d7e8f9:1717171830.123456")
    assert message.extra == {
        "block_id": "approval", "action_type": "button", "action_label": "Freigeben ✅",
        "message_ts": "1717171800.000300", "container_type": "message", "team_id": TEAM,
        "api_app_id": "A0ORQOAPP"}
    assert "hooks.slack.com" not in json.dumps(dataclasses.asdict(message))


def test_the_signature_covers_the_form_exactly_as_sent(direct):
    payload = json.dumps(block_actions(), ensure_ascii=False)
    body = ("payload=" + quote(payload, safe="")).encode()  # %20, not +, for spaces
    assert only_message(direct.parse(body)).action_value == "approve_run_4711"
    plus_encoded = form(block_actions())
    assert plus_encoded != body
    assert not direct.verify(plus_encoded, signed(body)).accepted


def test_a_button_without_a_value_uses_its_label(direct):
    payload = block_actions()
    del payload["actions"][0]["value"]
    message = only_message(direct.parse(form(payload)))
    assert (message.text, message.action_value) == ("Freigeben ✅", None)


def test_a_menu_choice_carries_the_option_value(direct):
    payload = block_actions(actions=[{
        "type": "static_select", "action_id": "priority", "block_id": "triage",
        "selected_option": {"text": {"type": "plain_text", "text": "Hoch 🔥", "emoji": True},
                            "value": "high"},
        "placeholder": {"type": "plain_text", "text": "Priorität wählen"},
        "action_ts": "1717171840.000001"}])
    message = only_message(direct.parse(form(payload)))
    assert (message.action_id, message.action_value, message.text) == ("priority", "high", "high")
    assert message.extra["action_label"] == "Hoch 🔥"


def test_a_user_picker_carries_the_chosen_user(direct):
    payload = block_actions(actions=[{"type": "users_select", "action_id": "assignee",
                                      "block_id": "triage", "selected_user": "U0BOB00002",
                                      "action_ts": "1717171850.000001"}])
    assert only_message(direct.parse(form(payload))).action_value == "U0BOB00002"


def test_the_container_gives_the_chat_when_the_payload_has_no_channel(direct):
    payload = block_actions(channel=None, message=None)
    payload["container"]["channel_id"] = "C0GENERAL1"
    message = only_message(direct.parse(form(payload)))
    assert message.chat_id == "C0GENERAL1"
    assert message.thread_id == "1717171717.000200"


def test_the_team_comes_from_the_payload_when_the_user_has_none(direct):
    payload = block_actions(user={"id": USER, "username": "ada", "name": "ada"})
    assert only_message(direct.parse(form(payload))).sender_id == SENDER


def test_without_a_trigger_id_the_action_ts_is_the_dedupe_key(direct):
    message = only_message(direct.parse(form(block_actions(trigger_id=None))))
    assert message.dedupe_key == "1717171830.123456"


def test_the_same_click_twice_is_routed_once(slack):
    body = form(block_actions())
    first = slack.deliver(slack.app_id, body, signed(body))
    second = slack.deliver(slack.app_id, body, signed(body))
    assert first.json["messages"][0]["outcome"] == "routed"
    assert second.json["messages"][0]["outcome"] == "duplicate"


SLASH_COMMAND = urlencode({
    "token": "gIkuvaNzQIHg97ATvDxqgjtO", "team_id": TEAM, "team_domain": "acme-gmbh",
    "channel_id": DM, "channel_name": "directmessage", "user_id": USER, "user_name": "ada",
    "command": "/orqo", "text": "Status 🤔", "api_app_id": "A0ORQOAPP",
    "response_url": "https://hooks.slack.com/commands/T0ACME123/0000/example",
    "trigger_id": "13345224609.738474920.8088930838d88f008e0"}).encode()


@pytest.mark.parametrize("payload,reason", [
    ({"type": "view_submission", "team": {"id": TEAM, "domain": "acme-gmbh"},
      "user": {"id": USER, "username": "ada", "team_id": TEAM}, "trigger_id": "1.2.3",
      "view": {"id": "V0MODAL001", "type": "modal", "callback_id": "feedback",
               "state": {"values": {}}}}, "'view_submission' is not routed"),
    ({"type": "shortcut", "callback_id": "open_ticket", "trigger_id": "1.2.3",
      "user": {"id": USER, "username": "ada", "team_id": TEAM},
      "team": {"id": TEAM, "domain": "acme-gmbh"}}, "'shortcut' is not routed"),
    ("slash", "'/orqo' is not routed"),
    (block_actions(channel=None, message=None,
                   container={"type": "view", "view_id": "V0HOME0001"}),
     "outside a conversation"),
])
def test_other_interactions_are_ignored_with_a_reason(slack, payload, reason):
    body = SLASH_COMMAND if payload == "slash" else form(payload)
    response = slack.deliver(slack.app_id, body, signed(body))
    assert response.status_code == 200
    assert response.json["messages"] == []
    assert reason in slack.ledger()[0]["reason"]


def test_a_press_on_a_message_outside_a_thread_answers_that_message(direct):
    payload = block_actions()
    del payload["container"]["thread_ts"], payload["message"]["thread_ts"]
    message = only_message(direct.parse(form(payload)))
    assert (message.thread_id, message.reply_to) == (None, "1717171800.000300")


def test_without_a_container_the_message_gives_the_reply_pointer(direct):
    payload = block_actions(container={"type": "message", "channel_id": DM})
    del payload["message"]["thread_ts"]
    assert only_message(direct.parse(form(payload))).reply_to == "1717171800.000300"
