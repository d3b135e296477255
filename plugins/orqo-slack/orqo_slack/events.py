"""Events API ``event_callback`` envelopes: which inner events become messages, and how.

Sources: api.slack.com/apis/events-api (the envelope: ``token``, ``team_id``, ``api_app_id``,
``event``, ``type: event_callback``, ``event_id``, ``event_time``, ``authorizations``),
api.slack.com/events/message (and its subtypes), api.slack.com/events/app_mention.

Routed:

* ``message`` (DMs ``channel_type: im``, channels, private channels ``group``, group DMs
  ``mpim``) with no subtype, or the subtypes that are still a person writing: ``file_share``,
  ``thread_broadcast`` (a thread reply also sent to the channel) and ``me_message`` (``/me``);
* ``app_mention``;
* ``message`` with subtype ``message_changed`` as kind ``edit`` (see :func:`_edit`).

Fields: ``chat_id`` is ``channel``; ``thread_id`` is ``thread_ts``; ``platform_message_id``
and ``sent_at`` come from ``ts``; the sender is ``<team>:<user>`` where the team is the user's
own workspace (``user_team``, else ``team``, else the envelope's ``team_id``) so one person is
one sender whichever workspace of a Slack Connect channel or Enterprise Grid the event came
through; ``files[]`` become attachments. ``reply_to`` is ``thread_ts`` for a reply in a thread
(``thread_ts`` set and not the message's own ``ts``): the thread's root, as the ``reply_key``
of a message orqo sent is (:mod:`orqo_slack.sending`). A message outside a thread (most DM
answers) or a thread's root answers nothing: None.

Dedupe: a person's message is keyed ``<channel>:<ts>``, which Slack keeps on every retry (as
it keeps ``event_id``) and which is also the same when one message arrives twice as two
events: an App subscribed to ``message.*`` and ``app_mention`` gets both for a message that
mentions it, with two different ``event_id``. An edit has no ts of its own and is keyed by
its ``event_id``. The ``event_id`` is always kept in ``extra``.

Ignored with a reason: the App's own messages (``app_id`` or ``bot_user_id`` from the config,
or the installation's bot user from ``authorizations``), bots (``bot_id``, ``bot_profile`` or
subtype ``bot_message``), every other subtype (``message_deleted``, ``channel_join``,
``channel_topic``...), edits that do not change the text (Slack sends ``message_changed`` when
a link unfurls or a thread gets a reply), and every other event type.
"""
from __future__ import annotations

from orqo.errors import MalformedDelivery
from orqo.messages import Message
from orqo.stages import ParseResult
from orqo_slack.readers import file_attachments
from orqo_slack.readers import id_field
from orqo_slack.readers import ignored
from orqo_slack.readers import object_field
from orqo_slack.readers import plain
from orqo_slack.readers import sender_id
from orqo_slack.readers import shown
from orqo_slack.readers import text_field
from orqo_slack.readers import thread_root
from orqo_slack.readers import ts_field

ROUTED_EVENTS = ("message", "app_mention")
#: Message subtypes that are a person writing (everything else is a change or a notice).
PERSON_SUBTYPES = (None, "file_share", "thread_broadcast", "me_message")


def parse_event_callback(envelope: dict, config: dict, platform: str) -> ParseResult:
    """The messages of one ``event_callback`` envelope (at most one), or why there are none."""
    event_id = id_field(envelope, "event_id", "the event_callback", required=True)
    event = object_field(envelope, "event", "the event_callback", required=True)
    event_type = text_field(event, "type", "the event", required=True)
    if event_type not in ROUTED_EVENTS:
        return ignored(f"event type {shown(event_type)} is not routed")
    bot_users = _bot_users(envelope)
    subtype = text_field(event, "subtype", "the event")
    if event_type == "message" and subtype == "message_changed":
        return _edit(envelope, event, event_id, config, bot_users, platform)
    not_a_person = _not_a_person(event, config, bot_users)
    if not_a_person:
        return ignored(not_a_person)
    if event_type == "message" and subtype not in PERSON_SUBTYPES:
        return ignored(f"message subtype {shown(subtype)} is not a person writing")
    user = id_field(event, "user", "the event")
    if user is None:
        return ignored(f"{event_type} event without a user")
    channel = id_field(event, "channel", "the event", required=True)
    ts = ts_field(event, "ts", "the event", required=True)
    thread_ts = ts_field(event, "thread_ts", "the event")
    message = Message(
        platform=platform,
        sender_id=sender_id(_team(event, envelope), user),
        sender_name=_display_name(event),
        text=text_field(event, "text", "the event") or "",
        chat_id=channel,
        thread_id=thread_ts,
        reply_to=thread_root(thread_ts, ts),
        platform_message_id=ts,
        dedupe_key=f"{channel}:{ts}",
        sent_at=float(ts),
        attachments=file_attachments(event.get("files"), "the event"),
        extra=_extra(envelope, event, event_id, event_type, subtype, ts),
    )
    return ParseResult(messages=[message])


def _edit(envelope, event, event_id, config, bot_users, platform) -> ParseResult:
    """``message_changed`` as kind ``edit``: the new text, from the edited message's author.

    ``platform_message_id`` is the edited message's ``ts`` (the same id as the original
    message), ``sent_at`` is when it was edited, and the dedupe key is the ``event_id``. When
    the edited ``message`` lacks a field, ``previous_message`` gives it (see :func:`_edited_ts`).
    """
    edited = object_field(event, "message", "the message_changed event", required=True)
    previous = object_field(event, "previous_message", "the message_changed event") or {}
    for version in (edited, previous):
        not_a_person = _not_a_person(version, config, bot_users)
        if not_a_person:
            return ignored(f"an edit of {not_a_person}")
    inner_subtype = text_field(edited, "subtype", "the edited message")
    if inner_subtype not in PERSON_SUBTYPES:
        return ignored(f"an edit of a message of subtype {shown(inner_subtype)}")
    user = (id_field(edited, "user", "the edited message")
            or id_field(previous, "user", "the previous message"))
    if user is None:
        return ignored("an edit of a message without a user")
    text = text_field(edited, "text", "the edited message") or ""
    if previous and text == (text_field(previous, "text", "the previous message") or ""):
        return ignored("message_changed without a text change (an unfurl or a thread reply)")
    channel = id_field(event, "channel", "the message_changed event", required=True)
    ts, ts_from = _edited_ts(event, edited, previous)
    thread_ts = (ts_field(edited, "thread_ts", "the edited message")
                 or ts_field(previous, "thread_ts", "the previous message"))
    edited_at = (ts_field(object_field(edited, "edited", "the edited message") or {}, "ts",
                          "the edited message's edited")
                 or ts_field(event, "event_ts", "the message_changed event")
                 or ts_field(event, "ts", "the message_changed event") or ts)
    extra = _extra(envelope, event, event_id, "message", "message_changed", ts)
    if ts_from != "message":
        extra["edited_ts_from"] = ts_from
    message = Message(
        platform=platform,
        kind="edit",
        sender_id=sender_id(_team(edited, envelope, event), user),
        sender_name=_display_name(edited),
        text=text,
        chat_id=channel,
        thread_id=thread_ts,
        reply_to=thread_root(thread_ts, ts),
        platform_message_id=ts,
        dedupe_key=event_id,
        sent_at=float(edited_at),
        attachments=file_attachments(edited.get("files"), "the edited message"),
        extra=extra,
    )
    return ParseResult(messages=[message])


def _edited_ts(event: dict, edited: dict, previous: dict) -> tuple[str, str]:
    """The edited message's ``ts`` and where it came from: ``message.ts``, else
    ``previous_message.ts`` (the same message before the edit), else the event's own ``ts``.

    Payloads recorded from Slack carry the edited message's ts as the event's ``ts`` too (the
    edit's time is ``event_ts``); the example in Slack's reference shows the edit's time
    there instead, so it is the last resort, and ``extra["edited_ts_from"]`` says it was used.
    Only an event with none of the three is malformed.
    """
    for source, holder, where in (("message", edited, "the edited message"),
                                  ("previous_message", previous, "the previous message"),
                                  ("event", event, "the message_changed event")):
        ts = ts_field(holder, "ts", where)
        if ts is not None:
            return ts, source
    raise MalformedDelivery("the message_changed event has no ts (neither in message, "
                            "previous_message nor the event)")


def _not_a_person(event: dict, config: dict, bot_users: set[str]) -> str | None:
    """Why ``event`` is not a person writing to the App, or None when it is."""
    app_id = config.get("app_id")
    bot_user_id = config.get("bot_user_id")
    user = event.get("user")
    if app_id and event.get("app_id") == app_id:
        return "the App's own message (app_id)"
    if bot_user_id and user == bot_user_id:
        return "the App's own message (bot_user_id)"
    if isinstance(user, str) and user in bot_users:
        return "the App's own message (its bot user)"
    if event.get("bot_id") or event.get("bot_profile") or event.get("subtype") == "bot_message":
        return "a bot's message"
    return None


def _bot_users(envelope: dict) -> set[str]:
    """The installation's bot user ids, from the envelope's ``authorizations``."""
    authorizations = envelope.get("authorizations")
    if not isinstance(authorizations, list):
        return set()
    return {item["user_id"] for item in authorizations
            if isinstance(item, dict) and item.get("is_bot") is True
            and isinstance(item.get("user_id"), str)}


def _team(message: dict, envelope: dict, event: dict | None = None) -> str:
    """The author's own workspace: ``user_team``, else ``team``, else the envelope's ``team_id``."""
    candidates = [(message, "user_team"), (message, "team")]
    if event is not None:
        candidates += [(event, "user_team"), (event, "team")]
    for source, key in (*candidates, (envelope, "team_id")):
        team = id_field(source, key, "the event")
        if team:
            return team
    raise MalformedDelivery("the event_callback has no team_id")


def _display_name(event: dict) -> str | None:
    """The author's name when Slack includes a ``user_profile`` (it often does not)."""
    profile = event.get("user_profile")
    if not isinstance(profile, dict):
        return None
    for key in ("display_name", "real_name", "name"):
        value = profile.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _extra(envelope, event, event_id, event_type, subtype, ts) -> dict:
    return plain(
        event_id=event_id,
        event_type=event_type,
        subtype=subtype,
        ts=ts,
        channel_type=text_field(event, "channel_type", "the event"),
        team_id=id_field(envelope, "team_id", "the event_callback"),
        api_app_id=id_field(envelope, "api_app_id", "the event_callback"),
        client_msg_id=id_field(event, "client_msg_id", "the event"),
    )
