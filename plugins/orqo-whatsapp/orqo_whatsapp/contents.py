"""One ``messages[]`` item's content, by its ``type``: the :class:`orqo.messages.Message`
fields each type fills. The rules are listed in :mod:`orqo_whatsapp.notifications`.

Every handler takes the item (``raw``), its content object (``raw[raw["type"]]``), the
content's path and the App's config, and returns a dict of Message fields (``extra`` merged
into the message's own); it raises :class:`Skipped` for a well-formed message that is not
routed and :class:`orqo.errors.MalformedDelivery` for one Meta could not have sent.
"""
from __future__ import annotations

from orqo.errors import MalformedDelivery
from orqo.messages import Attachment
from orqo_whatsapp.readers import MAX_ID
from orqo_whatsapp.readers import number_field
from orqo_whatsapp.readers import object_field
from orqo_whatsapp.readers import shown
from orqo_whatsapp.readers import text_field

#: Media message types and the attachment kind each becomes.
MEDIA = {"image": "image", "video": "video", "document": "document", "sticker": "sticker",
         "audio": "audio", "voice": "voice"}


class Skipped(Exception):
    """A well-formed message that is not routed; the argument says why."""


def _text(raw, content, where, config):
    return {"text": text_field(content, "body", where, required=True)}


def _reply(reply: dict, where: str) -> dict:
    action_id = text_field(reply, "id", where, required=True)
    title = text_field(reply, "title", where)
    return {"kind": "action", "action_id": action_id, "action_value": title or action_id,
            "text": title or ""}


def _interactive(raw, content, where, config):
    kind = content.get("type")
    if kind in ("button_reply", "list_reply"):
        reply = object_field(content, kind, where, required=True)
        fields = _reply(reply, f"{where}.{kind}")
        description = text_field(reply, "description", f"{where}.{kind}")
        if description is not None:
            fields["extra"] = {"description": description}
        return fields
    if kind == "nfm_reply":
        reply = object_field(content, kind, where, required=True)
        at = f"{where}.nfm_reply"
        return {"kind": "action", "action_id": text_field(reply, "name", at) or "flow",
                "action_value": text_field(reply, "response_json", at, required=True),
                "text": text_field(reply, "body", at) or ""}
    raise Skipped(f"unsupported interactive type {shown(kind)}")


def _button(raw, content, where, config):
    payload = text_field(content, "payload", where)
    text = text_field(content, "text", where)
    if not payload and not text:
        raise MalformedDelivery(f"{where} has neither payload nor text")
    return {"kind": "action", "action_id": payload or text, "action_value": text or payload,
            "text": text or ""}


def _media(raw, content, where, config):
    kind = MEDIA[raw["type"]]
    if kind == "audio" and content.get("voice") is True:
        kind = "voice"
    media_id = text_field(content, "id", where, max_length=MAX_ID)
    url = text_field(content, "url", where)
    if not media_id and not url:
        raise MalformedDelivery(f"{where} has no media id")
    attachment = Attachment(kind=kind, file_id=media_id or None, url=url,
                            mime_type=text_field(content, "mime_type", where),
                            name=text_field(content, "filename", where))
    extra = {}
    if text_field(content, "sha256", where):
        extra["media_sha256"] = content["sha256"]
    if content.get("animated") is True:
        extra["animated"] = True
    return {"text": text_field(content, "caption", where) or "", "attachments": [attachment],
            "extra": extra}


def _location(raw, content, where, config):
    latitude = number_field(content, "latitude", where)
    longitude = number_field(content, "longitude", where)
    place = {"latitude": float(latitude), "longitude": float(longitude)}
    for key in ("name", "address", "url"):
        if text_field(content, key, where) is not None:
            place[key] = content[key]
    text = "\n".join(place[key] for key in ("name", "address") if place.get(key))
    # A geo URI (RFC 5870) of the numbers as sent: the same as the Telegram adapter gives.
    pin = Attachment(kind="location", url=f"geo:{latitude},{longitude}")
    return {"text": text, "attachments": [pin], "extra": {"location": place}}


def _reaction(raw, content, where, config):
    reacted_to = text_field(content, "message_id", where, required=True)
    emoji = text_field(content, "emoji", where)
    if not emoji:
        raise Skipped("reaction removed")
    if not config.get("route_reactions"):
        raise Skipped("reaction (route_reactions is off)")
    return {"text": emoji, "extra": {"reaction": emoji, "reacted_message_id": reacted_to}}


#: What an edit may change: "text, media with caption" (Meta's edit webhook reference).
EDITABLE = ("text", *MEDIA)


def _edit(raw, content, where, config):
    """An edit: the original's id and the edited message, itself shaped like a message."""
    original = text_field(content, "original_message_id", where, required=True,
                          max_length=MAX_ID)
    edited = object_field(content, "message", where, required=True)
    at = f"{where}.message"
    edited_type = text_field(edited, "type", at, required=True)
    if edited_type not in EDITABLE:
        raise Skipped(f"unsupported edited message type {shown(edited_type)}")
    fields = HANDLERS[edited_type](edited, object_field(edited, edited_type, at, required=True),
                                   f"{at}.{edited_type}", config)
    context, reply_to = read_context(edited, at)
    fields["extra"] = {**fields.get("extra", {}), **context, "edited_type": edited_type,
                       "edit_message_id": raw["id"]}
    fields.update(kind="edit", platform_message_id=original)
    if reply_to:
        fields["reply_to"] = reply_to
    return fields


HANDLERS = {"text": _text, "interactive": _interactive, "button": _button,
            "location": _location, "reaction": _reaction, "edit": _edit,
            **{name: _media for name in MEDIA}}


def read_context(raw: dict, where: str) -> tuple[dict, str | None]:
    """An item's ``context`` and ``referral`` as ``extra``, and the ``reply_to`` they give.

    ``reply_to`` is ``context.id``: the wamid of the message quoted (or whose button was
    pressed), the ``reply_key`` orqo's send stage returned when orqo sent it. A forwarded
    message has ``context: {"forwarded": true}`` and no id: it answers nothing.
    """
    context = object_field(raw, "context", where)
    extra, reply_to = {}, None
    if context is not None:
        at = f"{where}.context"
        reply_to = text_field(context, "id", at, max_length=MAX_ID) or None
        replied = {name: context[key] for key, name in (("id", "message_id"), ("from", "from"))
                   if text_field(context, key, at) is not None}
        if replied:
            extra["context"] = replied
        for flag in ("forwarded", "frequently_forwarded"):
            if context.get(flag) is True:
                extra[flag] = True
    if isinstance(raw.get("referral"), dict):
        extra["referral"] = raw["referral"]  # the click-to-WhatsApp ad the user came from
    return extra, reply_to
