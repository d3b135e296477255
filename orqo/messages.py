"""The normalised message: what every adapter turns a platform's payload into.

One delivery may carry several messages, from several senders (WhatsApp batches them); each is
gated, deduplicated and routed on its own. The same shape is validated by
:class:`orqo.schemas.MessageSchema` whenever it crosses a boundary.
"""
from __future__ import annotations

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
    action_id: str | None = None
    action_value: str | None = None
    attachments: list[Attachment] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
