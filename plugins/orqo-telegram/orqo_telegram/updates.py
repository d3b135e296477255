"""Telegram ``Update`` objects turned into orqo's normalised messages.

Source: the Bot API reference, core.telegram.org/bots/api (``Update``, ``Message``,
``CallbackQuery``, ``PhotoSize`` and the media types). One Update carries ``update_id`` and at
most one of its optional fields; that field names the update type.

Routed update types:

* ``message`` and ``channel_post``: kind ``message``; ``edited_message`` and
  ``edited_channel_post``: kind ``edit`` (the same ``platform_message_id`` as the original).
* ``callback_query`` (an inline keyboard button pressed): kind ``action``.

Everything else (``my_chat_member``, ``chat_member``, ``chat_join_request``, ``poll``,
``poll_answer``, ``inline_query``, ``message_reaction``, business updates...) is ignored with a
reason, and so is a message with neither text nor a supported attachment (service messages such
as ``new_chat_members`` or ``pinned_message``, and content such as polls, dice or contacts).
Messages from bots are ignored as well: bots must not talk to each other in loops.

Fields of a message:

* ``dedupe_key``: ``str(update_id)``. Every edit is a new update, so it is a new message.
* ``chat_id``: ``chat.id`` as a string (negative for groups and channels).
* ``platform_message_id``: ``"<chat_id>:<message_id>"``, because message ids are only unique
  within a chat.
* ``sender_id``: ``sender_chat.id`` when the message was sent on behalf of a chat (a channel
  post, an anonymous group admin, a linked channel's automatic forward), else ``from.id``.
  Telegram puts a *fake* user shared by everyone (for example @GroupAnonymousBot) in ``from``
  of such messages, so ``from`` must not identify a Contact there. A channel post with
  neither (older posts have no ``sender_chat``) is sent by its chat: ``chat.id``.
  ``sender_name`` is ``first_name last_name`` or ``username``, or the sending chat's ``title``.
* ``thread_id``: ``"<chat_id>:<message_thread_id>"`` (forum topics; reply threads in
  supergroups), failing that ``"<chat_id>:<reply_to_message.message_id>"``, else none. Both
  are chat-qualified like ``platform_message_id``, so a reply's thread is exactly the
  ``platform_message_id`` of the message it answers: an agent that asked a question can wait
  on replies to that message.
* ``reply_to``: ``"<chat_id>:<reply_to_message.message_id>"`` for a reply, the same string the
  send stage returns as the reply key of a message it sent (:mod:`orqo_telegram.sending`), so
  an answer to an agent's question finds the waitbox bound to it. Not for the
  ``forum_topic_created`` service message Telegram gives as ``reply_to_message`` to messages
  in a forum topic that answer nothing; not for ``external_reply`` (a message of another chat).
* ``extra``: ``update_type``, ``update_id``, ``chat_type``, ``message_id``,
  ``message_thread_id``, ``is_topic_message`` (the thread is a forum topic) and
  ``reply_to_message_id``: the raw numbers the send stage needs to reply.
* ``text``: ``text``, else ``caption``. ``sent_at``: ``date``, or ``edit_date`` for edits.
* ``attachments``: the largest ``photo`` size (``image``), ``animation``, ``video`` and
  ``video_note`` (``video``), ``voice``, ``audio``, ``document`` (with ``file_name`` and
  ``mime_type``; skipped when ``animation`` is set, because Telegram repeats an animation there),
  ``sticker``, and ``location`` (also set for venues) as a ``geo:<lat>,<lon>`` URI (RFC 5870).

A callback query: ``sender_id`` is ``from.id``; ``chat_id`` the chat of the message that carries
the button (the presser's own id when the button is on an inline-mode message, which has no
chat); ``action_id`` and ``action_value`` are the button's ``callback_data`` (a button has no
other name; a game button's ``action_id`` is its ``game_short_name``); ``text`` the button's
label when the keyboard is included; ``platform_message_id`` the callback query ``id`` (what
``answerCallbackQuery`` needs, also in ``extra``). A button press counts as a reply to the
message that carries the button: its ``reply_to`` is that message
(``"<chat_id>:<message_id>"``), its ``thread_id`` that message's ``message_thread_id``, else the
message itself. ``sent_at`` is when orqo received it (a callback query has no date).

Malformed (answered 400 by orqo, never an exception): a body that is not a UTF-8 JSON object;
no integer ``update_id``; a message without ``chat``, ``chat.id``, ``message_id`` or ``date``,
or (except a channel post) without ``from``/``sender_chat`` when it has content; a field of the
wrong type; an id outside 64 bits; a NUL character or an unpaired surrogate in a routed
message (neither can be stored, and Telegram sends neither).
"""
from __future__ import annotations

import dataclasses
import math
import re

from orqo.bodies import unstorable_string
from orqo.errors import MalformedDelivery
from orqo.messages import Attachment
from orqo.messages import Message
from orqo.stages import ParseResult

#: The update types that carry a message, and the kind of message each is.
MESSAGE_UPDATES = {"message": "message", "edited_message": "edit",
                   "channel_post": "message", "edited_channel_post": "edit"}
#: The update types of posts in a channel.
CHANNEL_UPDATES = ("channel_post", "edited_channel_post")

_MAX_ID = 512  # orqo's limit on ids and stored names
# Telegram's ids and dates fit in 64 bits; the bound keeps every id we build short.
_MAX_INT = 2 ** 63
# Field names echoed in reasons and meta: only names Telegram could use.
_FIELD = re.compile(r"[a-z][a-z0-9_]{0,63}\Z")


def _integer(parent: dict, key: str, where: str) -> int:
    value = parent.get(key)
    if value is None:
        raise MalformedDelivery(f"{where} has no {key}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedDelivery(f"{where}.{key} must be an integer")
    if not -_MAX_INT < value < _MAX_INT:
        raise MalformedDelivery(f"{where}.{key} is out of range")
    return value


def _object(parent: dict, key: str, where: str, required=False) -> dict | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise MalformedDelivery(f"{where} has no {key}")
        return None
    if not isinstance(value, dict):
        raise MalformedDelivery(f"{where}.{key} must be an object")
    return value


def _string(parent: dict, key: str, where: str) -> str | None:
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedDelivery(f"{where}.{key} must be a string")
    return value


def _file_id(media: dict, where: str) -> str:
    file_id = _string(media, "file_id", where)
    if not file_id or len(file_id) > _MAX_ID:
        raise MalformedDelivery(f"{where} has no valid file_id")
    return file_id


def _name(*parts) -> str | None:
    name = " ".join(part for part in parts if isinstance(part, str) and part)
    return name[:_MAX_ID] or None


def _user_name(user: dict) -> str | None:
    return _name(user.get("first_name"), user.get("last_name")) or _name(user.get("username"))


def _photo(message: dict, where: str) -> Attachment:
    sizes = message["photo"]
    if not isinstance(sizes, list) or not sizes or not all(isinstance(s, dict) for s in sizes):
        raise MalformedDelivery(f"{where}.photo must be a non-empty list of PhotoSize objects")

    def area(size):
        width, height = size.get("width"), size.get("height")
        if not isinstance(width, int) or not isinstance(height, int):
            return 0
        return width * height

    # Telegram lists sizes smallest first; choosing by area does not depend on that order.
    largest = max(reversed(sizes), key=area)
    return Attachment(kind="image", file_id=_file_id(largest, f"{where}.photo"))


def _location(location: dict, where: str) -> Attachment:
    coordinates = []
    for key in ("latitude", "longitude"):
        value = location.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
                value):
            raise MalformedDelivery(f"{where}.location.{key} must be a number")
        coordinates.append(value)
    return Attachment(kind="location", url="geo:{},{}".format(*coordinates))


# (message field, attachment kind, take file_name, take mime_type), in the order attached.
_FILES = (
    ("animation", "video", True, True),
    ("video", "video", True, True),
    ("video_note", "video", False, False),
    ("voice", "voice", False, True),
    ("audio", "audio", True, True),
    ("document", "document", True, True),
    ("sticker", "sticker", False, False),
)


def _attachments(message: dict, where: str) -> list[Attachment]:
    attachments = []
    if message.get("photo") is not None:
        attachments.append(_photo(message, where))
    for key, kind, named, typed in _FILES:
        if key == "document" and message.get("animation") is not None:
            continue
        media = _object(message, key, where)
        if media is None:
            continue
        here = f"{where}.{key}"
        attachments.append(Attachment(
            kind=kind, file_id=_file_id(media, here),
            name=_string(media, "file_name", here) if named else None,
            mime_type=_string(media, "mime_type", here) if typed else None,
        ))
    location = _object(message, "location", where)
    if location is not None:
        attachments.append(_location(location, where))
    return attachments


def _topic(message: dict, where: str) -> int | None:
    """The message's ``message_thread_id`` (forum topic or supergroup reply thread), if any."""
    if message.get("message_thread_id") is None:
        return None
    return _integer(message, "message_thread_id", where)


def chat_qualified(chat_id: str, *candidates: int | None) -> str | None:
    """``"<chat_id>:<id>"`` of the first candidate that is set (the rule in the docstring);
    the send stage names the messages it sends, and their threads, with it too."""
    root = next((candidate for candidate in candidates if candidate is not None), None)
    return None if root is None else f"{chat_id}:{root}"


#: Message fields that are not content (for the reason given when nothing is routed).
_ENVELOPE = {"message_id", "message_thread_id", "from", "sender_chat", "date", "chat",
             "edit_date", "reply_to_message", "is_topic_message", "entities", "author_signature",
             "has_protected_content", "is_automatic_forward", "sender_boost_count",
             "sender_business_bot", "business_connection_id", "forward_origin", "via_bot",
             "reply_markup", "media_group_id", "link_preview_options", "external_reply",
             "quote", "reply_to_story", "is_from_offline", "effect_id", "show_caption_above_media"}


def _message(update: dict, update_type: str, platform: str) -> Message | str:
    """The normalised message of a message-carrying update, or why there is none."""
    where = update_type
    message = _object(update, update_type, "the Update", required=True)
    chat = _object(message, "chat", where, required=True)
    chat_id = str(_integer(chat, "id", f"{where}.chat"))
    message_id = _integer(message, "message_id", where)
    date = _integer(message, "date", where)
    kind = MESSAGE_UPDATES[update_type]
    text = _string(message, "text", where) or _string(message, "caption", where) or ""
    attachments = _attachments(message, where)
    if not text and not attachments:
        content = [key for key in message if key not in _ENVELOPE and _FIELD.match(key)]
        return (f"{update_type} without text or a supported attachment "
                f"({', '.join(sorted(content)) or 'empty'})")

    sender_chat = _object(message, "sender_chat", where)
    user = _object(message, "from", where)
    if sender_chat is not None:
        sender_id = _integer(sender_chat, "id", f"{where}.sender_chat")
        sender_name = _name(sender_chat.get("title")) or _user_name(sender_chat)
    elif user is not None:
        if user.get("is_bot") is True:
            return f"{update_type} from a bot"
        sender_id = _integer(user, "id", f"{where}.from")
        sender_name = _user_name(user)
    elif update_type in CHANNEL_UPDATES:
        # Older channel posts carry neither: the channel itself is the author.
        sender_id = _integer(chat, "id", f"{where}.chat")
        sender_name = _name(chat.get("title")) or _user_name(chat)
    else:
        raise MalformedDelivery(f"{where} has neither from nor sender_chat")

    sent_at = date
    if kind == "edit" and message.get("edit_date") is not None:
        sent_at = _integer(message, "edit_date", where)
    topic = _topic(message, where)
    reply = _object(message, "reply_to_message", where)
    reply_id = _integer(reply, "message_id", f"{where}.reply_to_message") if reply else None
    # In a forum topic, a message that answers nothing in particular still has the topic's
    # creation (a service message) as its reply_to_message: that is no answer to anything.
    answers = reply_id is not None and reply.get("forum_topic_created") is None
    return Message(
        platform=platform, sender_id=str(sender_id), sender_name=sender_name, text=text,
        chat_id=chat_id, thread_id=chat_qualified(chat_id, topic, reply_id),
        reply_to=chat_qualified(chat_id, reply_id) if answers else None,
        platform_message_id=f"{chat_id}:{message_id}",
        dedupe_key=str(update["update_id"]), sent_at=float(sent_at), kind=kind,
        attachments=attachments,
        extra={"update_type": update_type, "update_id": update["update_id"],
               "chat_type": _string(chat, "type", f"{where}.chat"),
               "message_id": message_id, "message_thread_id": topic,
               "is_topic_message": message.get("is_topic_message") is True,
               "reply_to_message_id": reply_id},
    )


def _button_label(message: dict | None, data: str | None) -> str:
    """The label of the inline button whose callback_data is ``data``, when it can be found."""
    keyboard = (message or {}).get("reply_markup")
    rows = keyboard.get("inline_keyboard") if isinstance(keyboard, dict) else None
    for row in rows if isinstance(rows, list) else ():
        for button in row if isinstance(row, list) else ():
            if (isinstance(button, dict) and data is not None
                    and button.get("callback_data") == data
                    and isinstance(button.get("text"), str)):
                return button["text"]
    return ""


def _callback_query(update: dict, platform: str, received_at: float) -> Message | str:
    """The ``action`` message of a callback query, or why there is none."""
    where = "callback_query"
    query = _object(update, where, "the Update", required=True)
    query_id = _string(query, "id", where)
    if not query_id or len(query_id) > _MAX_ID:
        raise MalformedDelivery(f"{where} has no valid id")
    user = _object(query, "from", where, required=True)
    sender_id = str(_integer(user, "id", f"{where}.from"))
    data = _string(query, "data", where)
    game = _string(query, "game_short_name", where)
    if not data and not game:
        return "callback_query without data or game_short_name"
    message = _object(query, "message", where)
    extra = {"update_type": where, "update_id": update["update_id"], "callback_query_id": query_id}
    if message is not None:
        chat = _object(message, "chat", f"{where}.message", required=True)
        chat_id = str(_integer(chat, "id", f"{where}.message.chat"))
        message_id = _integer(message, "message_id", f"{where}.message")
        topic = _topic(message, f"{where}.message")
        # A press answers the message that carries the button, as a reply would.
        thread_id = chat_qualified(chat_id, topic, message_id)
        reply_to = chat_qualified(chat_id, message_id)
        extra.update(chat_type=_string(chat, "type", f"{where}.message.chat"),
                     message_id=message_id, message_thread_id=topic,
                     is_topic_message=message.get("is_topic_message") is True)
    else:
        chat_id, thread_id, reply_to = sender_id, None, None
        extra["inline_message_id"] = _string(query, "inline_message_id", where)
    return Message(
        platform=platform, sender_id=sender_id, sender_name=_user_name(user),
        text=_button_label(message, data), chat_id=chat_id, thread_id=thread_id,
        reply_to=reply_to,
        platform_message_id=query_id, dedupe_key=str(update["update_id"]),
        sent_at=float(received_at), kind="action", action_id=(data or game)[:_MAX_ID],
        action_value=data, extra=extra,
    )


def parse_update(update, platform: str, received_at: float) -> ParseResult:
    """Normalise one decoded Update; raise :class:`MalformedDelivery` for a broken one."""
    if not isinstance(update, dict):
        raise MalformedDelivery(f"the body must be a JSON object (a Telegram Update), "
                                f"not {type(update).__name__}")
    if update.get("update_id") is None:
        raise MalformedDelivery("the Update has no update_id")
    update_id = _integer(update, "update_id", "the Update")
    present = [key for key, value in update.items() if key != "update_id" and value is not None]
    # Telegram sends one type per Update; should a future field ride along, a routed one wins.
    routed = [key for key in present if key in MESSAGE_UPDATES or key == "callback_query"]
    update_type = (routed or present or [None])[0]
    if update_type is not None and not _FIELD.match(update_type):
        update_type = None  # not a name Telegram uses; never echoed into the ledger
        outcome = "an Update of an unknown type"
    elif update_type in MESSAGE_UPDATES:
        outcome = _message(update, update_type, platform)
    elif update_type == "callback_query":
        outcome = _callback_query(update, platform, received_at)
    elif update_type is None:
        outcome = "an Update with no content"
    else:
        outcome = f"{update_type} updates are not routed"
    meta = {"update_id": update_id, "update_type": update_type}
    if isinstance(outcome, str):
        return ParseResult(messages=[], reason=outcome, meta=meta)
    if unstorable_string(dataclasses.asdict(outcome)):
        raise MalformedDelivery(f"the {update_type} contains a NUL character or an unpaired "
                                "surrogate, which Telegram never sends")
    return ParseResult(messages=[outcome], meta=meta)
