"""The normalised message: what every adapter turns a platform's payload into.

One delivery may carry several messages, from several senders (WhatsApp batches them); each is
gated, deduplicated and routed on its own. :func:`check_message` is the one check of the
format, run by the pipeline on every adapter's messages; :class:`orqo.schemas.MessageSchema`
carries the same shape over HTTP (remote adapters).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from dataclasses import field

#: What a message is: a person writing, an edit of an earlier message, or an action such as a
#: button press (how a person answers an approval an agent is waiting on).
MESSAGE_KINDS = ("message", "edit", "action")

#: What an attachment is.
ATTACHMENT_KINDS = ("image", "audio", "voice", "video", "document", "sticker", "location", "file")


@dataclass
class Attachment:
    """A file, image, voice note or location attached to a message.

    ``file_id`` is the platform's own handle (fetched later through the platform's API);
    ``url`` is used when the platform gives a direct link instead.
    """

    kind: str
    file_id: str | None = None
    url: str | None = None
    mime_type: str | None = None
    name: str | None = None


@dataclass
class Message:
    """One normalised inbound message.

    :param platform: the adapter's platform name (``slack``, ``custom``...).
    :param sender_id: the platform's id of the sender; together with the App it finds the
        Contact (for Slack, ``team_id`` + user id).
    :param text: what the person wrote (may be empty for an attachment or an action).
    :param chat_id: the chat, channel or conversation the message was written in.
    :param platform_message_id: the platform's id of this message.
    :param dedupe_key: the key that is the same on every redelivery of this message and
        different for every other message of the App.
    :param sent_at: when the platform says it was sent, in Unix seconds.
    :param thread_id: the thread the message belongs to, when the platform has threads.
    :param reply_to: the ``platform_message_id`` of the message this one answers, when the
        platform says so (a WhatsApp ``context.id``, a Telegram ``reply_to_message``, the root
        ``thread_ts`` of a Slack thread reply): a waitbox bound to a message orqo sent is
        answered first by a message whose ``reply_to`` is that message's reply key
        (:class:`orqo.stages.SendResult`). ``None`` when the message answers nothing.
    :param sender_name: the sender's display name, when the platform gives it.
    :param kind: one of :data:`MESSAGE_KINDS`.
    :param action_id: for ``action`` messages, which action (button) was used.
    :param action_value: for ``action`` messages, the value the action carried.
    :param attachments: the :class:`Attachment` list.
    :param extra: platform details worth keeping (plain JSON values only).
    """

    platform: str
    sender_id: str
    text: str
    chat_id: str
    platform_message_id: str
    dedupe_key: str
    sent_at: float
    thread_id: str | None = None
    sender_name: str | None = None
    kind: str = "message"
    reply_to: str | None = None
    action_id: str | None = None
    action_value: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    extra: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The one check of every adapter's messages
# ---------------------------------------------------------------------------------------------

#: Longest id (sender, chat, thread, message, dedupe key, attachment file id) orqo stores.
MAX_ID = 512
#: Longest attachment URL.
MAX_URL = 4096
#: Longest text (and action value) kept, in characters: Slack's own limit for a message's
#: text; WhatsApp's and Telegram's are 4,096. Longer ones are cut, and the original length is
#: kept in ``extra`` (``text_truncated_from``), so that no message can make a conversation
#: read or a push megabytes long.
MAX_TEXT = 40_000
#: Values cut to a length rather than refused: a display name, an action id, a MIME type, a
#: file name (a long one is still the same sender's message).
TRUNCATED = {"sender_name": 512, "action_id": 512, "mime_type": 255, "name": 1024}

# NUL cannot be stored by PostgreSQL and lone surrogates cannot be encoded as UTF-8; a platform
# may still send either (JSON escapes allow both), so they become U+FFFD instead of a 500.
UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


class NotAMessage(ValueError):
    """A message that does not fit the normalised format; the text names the field and what
    is wrong with it, never its value. The pipeline answers it 400 ``malformed``."""


def clean_text(value: str) -> str:
    """``value`` with characters no database can store replaced by U+FFFD."""
    return UNSTORABLE_CHARACTERS.sub("\ufffd", value) if UNSTORABLE_CHARACTERS.search(value) \
        else value


def clean_json(value):
    """:func:`clean_text` applied to every string (keys too) of a JSON value; anything that is
    not a JSON value (a set, an object, a number that is not finite) raises
    :class:`NotAMessage`. Walked with a stack, so any depth the JSON parser allows is fine."""
    search = UNSTORABLE_CHARACTERS.search
    stack = [value]
    while stack:  # a pass that only reads: usually there is nothing to replace
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            for key, inner in item.items():
                if type(key) is not str:
                    raise NotAMessage("extra: keys must be strings")
                if search(key):
                    return _cleaned(value)
                inner_kind = type(inner)
                if inner_kind is str:
                    if search(inner):
                        return _cleaned(value)
                elif inner_kind is dict or inner_kind is list:
                    stack.append(inner)
                elif inner is not None and inner_kind is not bool and inner_kind is not int:
                    stack.append(inner)
        elif kind is list:
            stack.extend(item)
        elif kind is str:
            if search(item):
                return _cleaned(value)
        elif kind is float:
            if not math.isfinite(item):
                raise NotAMessage("extra: numbers must be finite")
        elif item is not None and kind is not bool and kind is not int:
            raise NotAMessage(f"extra: {kind.__name__} is not a JSON value")
    return value


def _cleaned(value):
    try:
        return _replaced(value)
    except RecursionError:
        raise NotAMessage("extra: nested too deeply to clean") from None


def _replaced(value):
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): _replaced(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item) for item in value]
    return value


def _text(value, field_name: str, *, required=False, max_length=None, truncate=None):
    if value is None:
        if required:
            raise NotAMessage(f"{field_name}: missing")
        return None
    if not isinstance(value, str):
        raise NotAMessage(f"{field_name}: must be a string, not {type(value).__name__}")
    if required and not value:
        raise NotAMessage(f"{field_name}: must not be empty")
    if max_length is not None and len(value) > max_length:
        raise NotAMessage(f"{field_name}: longer than {max_length} characters")
    if truncate is not None:
        value = value[:truncate]
    return clean_text(value)


def check_message(message: Message) -> Message:
    """``message`` made storable, once it fits the normalised format; :class:`NotAMessage`
    naming the first field that does not.

    The format: the five ids (``platform``, ``sender_id``, ``chat_id``,
    ``platform_message_id``, ``dedupe_key``) non-empty and at most :data:`MAX_ID` characters,
    ``thread_id`` and ``reply_to`` too when given; ``text`` a string; ``sent_at`` a finite number; ``kind`` one
    of :data:`MESSAGE_KINDS`; attachments of a kind in :data:`ATTACHMENT_KINDS` with a
    ``file_id`` of at most :data:`MAX_ID` and a ``url`` of at most :data:`MAX_URL` characters;
    ``extra`` a JSON object. Names, action ids, MIME types and file names are cut to
    :data:`TRUNCATED`, the text and an action value to :data:`MAX_TEXT` (marked in ``extra``); characters no database stores become U+FFFD. The pipeline runs this on
    every message of every adapter, so the limits are the same for all of them.
    """
    if not isinstance(message, Message):
        raise NotAMessage(f"a {type(message).__name__} is not a Message")
    if not _plainly_fits(message):
        _check_fields(message)
    sent_at = message.sent_at
    if isinstance(sent_at, bool) or not isinstance(sent_at, (int, float)) \
            or not math.isfinite(sent_at):
        raise NotAMessage("sent_at: must be a finite number of Unix seconds")
    message.sent_at = float(sent_at)
    if not isinstance(message.attachments, list):
        raise NotAMessage("attachments: must be a list")
    for attachment in message.attachments:
        _check_attachment(attachment)
    if not isinstance(message.extra, dict):
        raise NotAMessage("extra: must be a JSON object")
    message.extra = clean_json(message.extra)
    for name in ("text", "action_value"):
        value = getattr(message, name)
        if value is not None and len(value) > MAX_TEXT:
            message.extra[f"{name}_truncated_from"] = len(value)
            setattr(message, name, value[:MAX_TEXT])
    return message


def _plainly_fits(message: Message) -> bool:
    """Whether the text fields of ``message`` need nothing done: the usual case, decided in
    one pass (:func:`_check_fields` says what is wrong, or cleans, otherwise)."""
    ids = (message.platform, message.sender_id, message.chat_id, message.platform_message_id,
           message.dedupe_key)
    for value in ids:
        if type(value) is not str or not 0 < len(value) <= MAX_ID:
            return False
    text, thread, name = message.text, message.thread_id, message.sender_name
    reply_to = message.reply_to
    action_id, action_value = message.action_id, message.action_value
    if type(text) is not str or message.kind not in MESSAGE_KINDS:
        return False
    for value, limit in ((thread, MAX_ID), (reply_to, MAX_ID), (name, TRUNCATED["sender_name"]),
                         (action_id, TRUNCATED["action_id"])):
        if value is not None and (type(value) is not str or not 0 < len(value) <= limit):
            return False
    if action_value is not None and type(action_value) is not str:
        return False
    return not UNSTORABLE_CHARACTERS.search(
        f"{ids[0]}{ids[1]}{ids[2]}{ids[3]}{ids[4]}{text}{thread or ''}{reply_to or ''}{name or ''}"
        f"{action_id or ''}{action_value or ''}")


def _check_fields(message: Message) -> None:
    """Check the text fields one by one: :class:`NotAMessage` for the first that does not
    fit; the others cut or cleaned in place."""
    for name in ("platform", "sender_id", "chat_id", "platform_message_id", "dedupe_key"):
        setattr(message, name, _text(getattr(message, name), name, required=True,
                                     max_length=MAX_ID))
    message.thread_id = _text(message.thread_id, "thread_id", max_length=MAX_ID)
    if message.thread_id == "":
        raise NotAMessage("thread_id: must not be empty (None when there is no thread)")
    message.reply_to = _text(message.reply_to, "reply_to", max_length=MAX_ID)
    if message.reply_to == "":
        raise NotAMessage("reply_to: must not be empty (None when it answers nothing)")
    message.text = _text(message.text, "text", required=False)
    if message.text is None:
        raise NotAMessage("text: missing (an empty string when there is none)")
    message.sender_name = _text(message.sender_name, "sender_name",
                                truncate=TRUNCATED["sender_name"])
    message.action_id = _text(message.action_id, "action_id", truncate=TRUNCATED["action_id"])
    message.action_value = _text(message.action_value, "action_value")
    if message.kind not in MESSAGE_KINDS:
        raise NotAMessage(f"kind: must be one of {', '.join(MESSAGE_KINDS)}")


def _check_attachment(attachment: Attachment) -> None:
    if not isinstance(attachment, Attachment):
        raise NotAMessage(f"attachments: a {type(attachment).__name__} is not an Attachment")
    if attachment.kind not in ATTACHMENT_KINDS:
        raise NotAMessage(f"attachments.kind: must be one of {', '.join(ATTACHMENT_KINDS)}")
    attachment.file_id = _text(attachment.file_id, "attachments.file_id", max_length=MAX_ID)
    if attachment.file_id == "":
        raise NotAMessage("attachments.file_id: must not be empty")
    attachment.url = _text(attachment.url, "attachments.url", max_length=MAX_URL)
    attachment.mime_type = _text(attachment.mime_type, "attachments.mime_type",
                                 truncate=TRUNCATED["mime_type"])
    attachment.name = _text(attachment.name, "attachments.name", truncate=TRUNCATED["name"])
