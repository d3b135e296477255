"""Interactivity deliveries: ``payload=<json>`` forms, of which ``block_actions`` is routed.

Source: api.slack.com/reference/interaction-payloads/block-actions-payload. Slack posts
``application/x-www-form-urlencoded`` with one field, ``payload``, whose value is JSON; the
signature covers that form body exactly as sent (checked before this module runs).

A ``block_actions`` payload (a button press, a menu choice) becomes one message of kind
``action`` from its first action:

* ``action_id`` and ``action_value`` (the button's ``value``, a menu's
  ``selected_option.value``, or a picker's ``selected_user``/``selected_channel``/...);
* ``text``: the value, else the button's label;
* sender ``<user.team_id or team.id>:<user.id>`` (the user's own workspace, as for events);
* chat ``channel.id``, else ``container.channel_id``; thread ``container.thread_ts``, else
  ``message.thread_ts``;
* ``reply_to``: the press answers the message carrying the button, so it is that message's
  thread root (the thread above), else the message's own ``ts`` (``container.message_ts``,
  else ``message.ts``): the ``reply_key`` :mod:`orqo_slack.sending` returned for it;
* ``platform_message_id`` and ``sent_at`` from ``action_ts``; dedupe key
  ``<trigger_id>:<action_ts>`` (or ``action_ts`` alone). Slack does not retry interactivity,
  and two clicks are two actions with two trigger ids.

``response_url`` is not kept: anyone holding it can post into the conversation for 30 minutes.
The legacy ``token`` is not kept either. Actions in a modal or on the App Home tab have no
conversation and are ignored, as are other interactivity types (``view_submission``,
``shortcut``, ``message_action``, legacy ``interactive_message``...).
"""
from __future__ import annotations

from orqo.errors import MalformedDelivery
from orqo.messages import Message
from orqo.stages import ParseResult
from orqo_slack.readers import id_field
from orqo_slack.readers import ignored
from orqo_slack.readers import object_field
from orqo_slack.readers import plain
from orqo_slack.readers import sender_id
from orqo_slack.readers import shown
from orqo_slack.readers import text_field
from orqo_slack.readers import ts_field

WHERE = "the block_actions payload"
#: Where the chosen value is for the element types that are not buttons.
SELECTED_FIELDS = ("selected_user", "selected_channel", "selected_conversation",
                   "selected_date", "selected_time", "selected_date_time")


def parse_interaction(payload: dict, platform: str) -> ParseResult:
    """The message of one interactivity payload, or why there is none."""
    kind = text_field(payload, "type", "the interactivity payload", required=True)
    if kind != "block_actions":
        return ignored(f"interactivity type {shown(kind)} is not routed")
    actions = payload.get("actions")
    if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
        raise MalformedDelivery(f"{WHERE} has no actions")
    action = actions[0]
    user = object_field(payload, "user", WHERE, required=True)
    team = object_field(payload, "team", WHERE) or {}
    container = object_field(payload, "container", WHERE) or {}
    channel = object_field(payload, "channel", WHERE) or {}
    message = object_field(payload, "message", WHERE) or {}
    user_id = id_field(user, "id", f"{WHERE} user", required=True)
    team_id = id_field(user, "team_id", f"{WHERE} user") or id_field(team, "id", f"{WHERE} team")
    if team_id is None:
        raise MalformedDelivery(f"{WHERE} has no team id (user.team_id or team.id)")
    action_id = id_field(action, "action_id", f"{WHERE} action", required=True)
    action_ts = ts_field(action, "action_ts", f"{WHERE} action", required=True)
    chat = id_field(channel, "id", f"{WHERE} channel") or id_field(
        container, "channel_id", f"{WHERE} container")
    if chat is None:
        return ignored("a block_actions outside a conversation (a modal or the App Home) "
                       "is not routed")
    trigger_id = id_field(payload, "trigger_id", WHERE)
    value = _value(action)
    label = _label(action)
    thread_ts = (ts_field(container, "thread_ts", f"{WHERE} container")
                 or ts_field(message, "thread_ts", f"{WHERE} message"))
    message_ts = (ts_field(container, "message_ts", f"{WHERE} container")
                  or ts_field(message, "ts", f"{WHERE} message"))
    routed = Message(
        platform=platform,
        kind="action",
        sender_id=sender_id(team_id, user_id),
        sender_name=text_field(user, "name", f"{WHERE} user")
        or text_field(user, "username", f"{WHERE} user"),
        text=value or label or "",
        chat_id=chat,
        thread_id=thread_ts,
        # The press answers the message the button is on: the key its send returned is the
        # root of the thread it went to, or its own ts outside a thread.
        reply_to=thread_ts or message_ts,
        platform_message_id=action_ts,
        dedupe_key=f"{trigger_id}:{action_ts}" if trigger_id else action_ts,
        sent_at=float(action_ts),
        action_id=action_id,
        action_value=value,
        extra=plain(
            block_id=id_field(action, "block_id", f"{WHERE} action"),
            action_type=text_field(action, "type", f"{WHERE} action"),
            action_label=label,
            message_ts=message_ts,
            container_type=text_field(container, "type", f"{WHERE} container"),
            team_id=id_field(team, "id", f"{WHERE} team"),
            api_app_id=id_field(payload, "api_app_id", WHERE),
        ),
    )
    return ParseResult(messages=[routed])


def _value(action: dict) -> str | None:
    """What the person chose: a button's value, a menu's option value, a picker's choice."""
    value = text_field(action, "value", f"{WHERE} action")
    if value is not None:
        return value
    option = object_field(action, "selected_option", f"{WHERE} action")
    if option is not None:
        return text_field(option, "value", f"{WHERE} selected_option")
    for key in SELECTED_FIELDS:
        chosen = action.get(key)
        if isinstance(chosen, (str, int)) and not isinstance(chosen, bool) and chosen != "":
            return str(chosen)
    return None


def _label(action: dict) -> str | None:
    """The button's label (``text.text``), or a menu option's label."""
    for holder in (action, object_field(action, "selected_option", f"{WHERE} action") or {}):
        text = object_field(holder, "text", f"{WHERE} action")
        if text is not None:
            return text_field(text, "text", f"{WHERE} action text")
    return None
