"""WhatsApp Cloud API notifications turned into orqo's normalised messages.

The payload shape is Meta's (developers.facebook.com/docs/whatsapp/cloud-api/webhooks,
"messages" webhook reference and payload examples)::

    {"object": "whatsapp_business_account",
     "entry": [{"id": "<WABA id>", "changes": [{"field": "messages", "value": {
         "messaging_product": "whatsapp",
         "metadata": {"display_phone_number": "...", "phone_number_id": "..."},
         "contacts": [{"profile": {"name": "..."}, "wa_id": "..."}],
         "messages": [{"from": "<wa_id>", "id": "wamid....", "timestamp": "<Unix s>",
                       "type": "text", "text": {"body": "..."}}],
         "statuses": [...]}}]}]}

Rules:

* ``object`` must be ``whatsapp_business_account``; ``entry`` a list of objects, each with a
  ``changes`` list of objects whose ``value`` is an object. Anything else is
  :class:`~orqo.errors.MalformedDelivery` (400) with the path of the offending field.
* One delivery may batch several entries, changes and messages from several senders: every
  ``entry[].changes[].value.messages[]`` item is a message of its own (gated, deduplicated and
  routed on its own). Changes of another ``field`` (``account_update``, template status...)
  are skipped.
* ``statuses[]`` (sent, delivered, read, failed) describe the business's own outbound messages:
  they are not errors and not messages. A delivery holding only statuses is accepted with the
  reason ``status update``.
* Each message: ``sender_id`` is ``from`` (the wa_id), or the business-scoped user id
  ``from_user_id`` when Meta withholds the phone number of a user with a username; ``chat_id``
  is the sender (1:1 chats), or ``group_id`` for a group message; ``platform_message_id`` and
  the dedupe key are the message ``id`` (``wamid...``, the same on every redelivery);
  ``sent_at`` is ``timestamp`` (a string of Unix seconds; the receipt time when absent);
  ``sender_name`` is the matching ``contacts[].profile.name``. WhatsApp has no threads:
  ``thread_id`` is None and the replied-to message (``context.id``) is kept in ``extra``.
  A message without ``id``, or without both ``from`` and ``from_user_id``, is malformed.
* Types: ``text``; ``interactive`` ``button_reply``/``list_reply`` and the legacy template
  ``button`` become ``action`` messages (``action_id`` the button id or payload,
  ``action_value`` and ``text`` its title); ``nfm_reply`` (a completed WhatsApp Flow) an
  ``action`` whose value is the Flow's ``response_json``; ``image``, ``video``, ``document``,
  ``sticker`` and ``audio`` (``voice`` when ``audio.voice`` is true) an attachment whose
  ``file_id`` is the media id (text: the caption); ``location`` a ``location`` attachment with
  the coordinates in ``extra``. ``reaction``: ignored unless the App's config sets
  ``route_reactions`` (then a message whose text is the emoji; a removed reaction is always
  ignored). Other types (``unsupported``, ``system``, ``order``, ``contacts``...) are skipped;
  each skipped message is listed in the ledger's ``meta.skipped``, and when nothing is left the
  delivery's reason says why. A change carrying ``errors[]`` (about the business's number or
  app, not a message) is recorded with their codes in ``meta.error_codes``.
"""
from __future__ import annotations

from orqo.errors import MalformedDelivery
from orqo.messages import Attachment
from orqo.messages import Message
from orqo.stages import ParseResult

OBJECT = "whatsapp_business_account"
#: Media message types and the attachment kind each becomes.
MEDIA = {"image": "image", "video": "video", "document": "document", "sticker": "sticker",
         "audio": "audio", "voice": "voice"}
MAX_ID = 512  # orqo's limit on ids (orqo.schemas)
MAX_SKIPPED_IN_META = 50

class Skipped(Exception):
    """A well-formed message that is not routed; the argument says why."""


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _object(parent: dict, key: str, where: str, required=False) -> dict | None:
    value = parent.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise MalformedDelivery(f"{where}.{key} must be an object")
    return value


def _list(parent: dict, key: str, where: str) -> list:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedDelivery(f"{where}.{key} must be a list")
    return value


def _string(parent: dict, key: str, where: str, required=False, max_length=None) -> str | None:
    value = parent.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise MalformedDelivery(f"{where}.{key} must be a non-empty string" if required
                                else f"{where}.{key} must be a string")
    if max_length is not None and len(value) > max_length:
        raise MalformedDelivery(f"{where}.{key} is longer than {max_length} characters")
    return value


def _number(parent: dict, key: str, where: str) -> float:
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedDelivery(f"{where}.{key} must be a number")
    return float(value)


def _sent_at(raw: dict, where: str, received_at: float) -> float:
    value = raw.get("timestamp")
    if value is None:
        return float(received_at)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return float(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        return float(value)
    raise MalformedDelivery(f"{where}.timestamp must be Unix seconds")


def _names(value: dict, where: str) -> dict[str, dict]:
    """``contacts[]`` by wa_id and by business-scoped user id: profile name and username."""
    found = {}
    for index, contact in enumerate(_list(value, "contacts", where)):
        at = f"{where}.contacts[{index}]"
        if not isinstance(contact, dict):
            raise MalformedDelivery(f"{at} must be an object")
        profile = _object(contact, "profile", at) or {}
        details = {"name": _string(profile, "name", f"{at}.profile"),
                   "username": _string(profile, "username", f"{at}.profile")}
        for key in ("wa_id", "user_id"):
            if _string(contact, key, at):
                found[contact[key]] = details
    return found


# --- one message's content, by type: each returns the Message fields it fills -------------

def _text(raw, content, where, config):
    return {"text": _string(content, "body", where, required=True)}


def _reply(reply: dict, where: str) -> dict:
    action_id = _string(reply, "id", where, required=True)
    title = _string(reply, "title", where)
    return {"kind": "action", "action_id": action_id, "action_value": title or action_id,
            "text": title or ""}


def _interactive(raw, content, where, config):
    kind = content.get("type")
    if kind in ("button_reply", "list_reply"):
        reply = _object(content, kind, where, required=True)
        fields = _reply(reply, f"{where}.{kind}")
        description = _string(reply, "description", f"{where}.{kind}")
        if description is not None:
            fields["extra"] = {"description": description}
        return fields
    if kind == "nfm_reply":
        reply = _object(content, kind, where, required=True)
        at = f"{where}.nfm_reply"
        return {"kind": "action", "action_id": _string(reply, "name", at) or "flow",
                "action_value": _string(reply, "response_json", at, required=True),
                "text": _string(reply, "body", at) or ""}
    raise Skipped(f"unsupported interactive type {_short(kind)}")


def _button(raw, content, where, config):
    payload = _string(content, "payload", where)
    text = _string(content, "text", where)
    if not payload and not text:
        raise MalformedDelivery(f"{where} has neither payload nor text")
    return {"kind": "action", "action_id": payload or text, "action_value": text or payload,
            "text": text or ""}


def _media(raw, content, where, config):
    kind = MEDIA[raw["type"]]
    if kind == "audio" and content.get("voice") is True:
        kind = "voice"
    media_id = _string(content, "id", where, max_length=MAX_ID)
    url = _string(content, "url", where)
    if not media_id and not url:
        raise MalformedDelivery(f"{where} has no media id")
    attachment = Attachment(kind=kind, file_id=media_id or None, url=url,
                            mime_type=_string(content, "mime_type", where),
                            name=_string(content, "filename", where))
    extra = {}
    if _string(content, "sha256", where):
        extra["media_sha256"] = content["sha256"]
    if content.get("animated") is True:
        extra["animated"] = True
    return {"text": _string(content, "caption", where) or "", "attachments": [attachment],
            "extra": extra}


def _location(raw, content, where, config):
    place = {"latitude": _number(content, "latitude", where),
             "longitude": _number(content, "longitude", where)}
    for key in ("name", "address", "url"):
        if _string(content, key, where) is not None:
            place[key] = content[key]
    text = "\n".join(place[key] for key in ("name", "address") if place.get(key))
    return {"text": text, "attachments": [Attachment(kind="location", url=place.get("url"))],
            "extra": {"location": place}}


def _reaction(raw, content, where, config):
    reacted_to = _string(content, "message_id", where, required=True)
    emoji = _string(content, "emoji", where)
    if not emoji:
        raise Skipped("reaction removed")
    if not config.get("route_reactions"):
        raise Skipped("reaction (route_reactions is off)")
    return {"text": emoji, "extra": {"reaction": emoji, "reacted_message_id": reacted_to}}


HANDLERS = {"text": _text, "interactive": _interactive, "button": _button,
            "location": _location, "reaction": _reaction,
            **{name: _media for name in MEDIA}}


def _context_extra(raw: dict, where: str) -> dict:
    context = _object(raw, "context", where)
    extra = {}
    if context is not None:
        at = f"{where}.context"
        replied = {name: context[key] for key, name in (("id", "message_id"), ("from", "from"))
                   if _string(context, key, at) is not None}
        if replied:
            extra["context"] = replied
        for flag in ("forwarded", "frequently_forwarded"):
            if context.get(flag) is True:
                extra[flag] = True
    if isinstance(raw.get("referral"), dict):
        extra["referral"] = raw["referral"]  # the click-to-WhatsApp ad the user came from
    return extra


def _message(raw, where: str, change: dict, platform: str, config: dict,
             received_at: float) -> Message:
    """One ``messages[]`` item as a Message; raises :class:`Skipped` for types not routed."""
    if not isinstance(raw, dict):
        raise MalformedDelivery(f"{where} must be an object")
    message_id = _string(raw, "id", where, required=True, max_length=MAX_ID)
    wa_id = _string(raw, "from", where, max_length=MAX_ID)
    user_id = _string(raw, "from_user_id", where, max_length=MAX_ID)
    if not wa_id and not user_id:
        raise MalformedDelivery(f"{where} has no from (the sender's wa_id)")
    sender = wa_id or user_id
    sent_at = _sent_at(raw, where, received_at)
    group_id = _string(raw, "group_id", where, max_length=MAX_ID)
    message_type = _string(raw, "type", where, required=True)
    handler = HANDLERS.get(message_type)
    if handler is None:
        raise Skipped(f"unsupported message type {_short(message_type)}")
    content = _object(raw, message_type, where, required=True)
    fields = handler(raw, content, f"{where}.{message_type}", config)

    profile = change["names"].get(sender) or change["names"].get(user_id) or {}
    extra = {"type": message_type, **change["metadata"], **_context_extra(raw, where)}
    for key, value in (("wa_id", wa_id), ("user_id", user_id), ("group_id", group_id),
                       ("username", profile.get("username"))):
        if value:
            extra[key] = value
    extra.update(fields.pop("extra", {}))
    message = Message(platform=platform, sender_id=sender, chat_id=group_id or sender,
                      platform_message_id=message_id, dedupe_key=message_id, sent_at=sent_at,
                      sender_name=profile.get("name"), thread_id=None, extra=extra,
                      **{"text": "", **fields})
    # orqo checks the format (and its limits) for every adapter alike: a value past them is
    # the sender's 400.
    return message


def _metadata(value: dict, where: str, entry: dict) -> dict:
    """The business's phone number and account the change was for, kept in ``extra``."""
    metadata = _object(value, "metadata", where) or {}
    found = {}
    for key in ("phone_number_id", "display_phone_number"):
        if _string(metadata, key, f"{where}.metadata") is not None:
            found[key] = metadata[key]
    if isinstance(entry.get("id"), str):
        found["business_account_id"] = entry["id"]
    return found


class _Outcome:
    """What a delivery yields: messages, skipped messages, reasons for skipping."""

    def __init__(self):
        self.messages, self.skipped, self.reasons, self.errors = [], [], [], []
        self.statuses = 0

    def reason(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def result(self) -> ParseResult:
        meta = {}
        if self.statuses:
            meta["statuses"] = self.statuses
        if self.skipped:
            meta["skipped"] = self.skipped[:MAX_SKIPPED_IN_META]
        if self.errors:
            meta["error_codes"] = self.errors[:MAX_SKIPPED_IN_META]
        reason = "" if self.messages else "; ".join(self.reasons) or "no messages"
        return ParseResult(messages=self.messages, reason=reason, meta=meta)


def parse_notification(document, platform: str, config: dict, received_at: float) -> ParseResult:
    """Normalise one webhook notification (the decoded JSON body); see the module docstring."""
    if not isinstance(document, dict):
        raise MalformedDelivery("the body must be a JSON object")
    if document.get("object") != OBJECT:
        # Not quoted back: a body that is not Meta's may hold anything.
        raise MalformedDelivery(f"object must be {OBJECT!r}")
    entries = document.get("entry")
    if not isinstance(entries, list):
        raise MalformedDelivery("entry must be a list")
    outcome = _Outcome()
    for entry_index, entry in enumerate(entries):
        entry_where = f"entry[{entry_index}]"
        if not isinstance(entry, dict):
            raise MalformedDelivery(f"{entry_where} must be an object")
        changes = entry.get("changes")
        if not isinstance(changes, list):
            raise MalformedDelivery(f"{entry_where}.changes must be a list")
        for change_index, change in enumerate(changes):
            where = f"{entry_where}.changes[{change_index}]"
            if not isinstance(change, dict):
                raise MalformedDelivery(f"{where} must be an object")
            value = _object(change, "value", where, required=True)
            if change.get("field") != "messages":
                outcome.reason(f"not a messages change (field {_short(change.get('field'))})")
                continue
            _change(value, f"{where}.value", entry, platform, config, received_at, outcome)
    return outcome.result()


def _change(value, where, entry, platform, config, received_at, outcome) -> None:
    """Add one ``messages`` change's messages, statuses and errors to ``outcome``."""
    statuses = _list(value, "statuses", where)
    messages = _list(value, "messages", where)
    errors = _list(value, "errors", where)
    if statuses:
        outcome.statuses += len(statuses)
        outcome.reason("status update")
    if errors:
        # Errors WhatsApp reports about the business's phone number or app, not about a message.
        outcome.errors.extend(error["code"] for error in errors if isinstance(error, dict)
                              and isinstance(error.get("code"), (int, str)))
        outcome.reason("error notification")
    if not statuses and not messages and not errors:
        outcome.reason("no messages in the change")
    change = {"names": _names(value, where),
              "metadata": _metadata(value, where, entry)}
    for index, raw in enumerate(messages):
        at = f"{where}.messages[{index}]"
        try:
            outcome.messages.append(_message(raw, at, change, platform, config, received_at))
        except Skipped as skipped:
            outcome.reason(str(skipped))
            outcome.skipped.append({"id": raw.get("id") if isinstance(raw.get("id"), str)
                                    else None, "reason": str(skipped)})
