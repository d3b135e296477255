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
  ``thread_id`` is None. ``reply_to`` is ``context.id``, the wamid of the message quoted or
  whose button was pressed (for a message orqo sent: its reply key), also kept in
  ``extra.context``; a forwarded message's ``context`` has no id and answers nothing.
  A message without ``id``, or without both ``from`` and ``from_user_id``, is malformed.
* Types (:mod:`orqo_whatsapp.contents`): ``text``; ``interactive``
  ``button_reply``/``list_reply`` and the legacy template ``button`` become ``action``
  messages (``action_id`` the button id or payload, ``action_value`` and ``text`` its title);
  ``nfm_reply`` (a completed WhatsApp Flow) an ``action`` whose value is the Flow's
  ``response_json``; ``image``, ``video``, ``document``, ``sticker`` and ``audio`` (``voice``
  when ``audio.voice`` is true) an attachment whose ``file_id`` is the media id (text: the
  caption); ``location`` a ``location`` attachment whose ``url`` is the RFC 5870 URI
  ``geo:<latitude>,<longitude>`` (as the Telegram adapter gives), with name and address as
  the text and everything in ``extra.location``. ``reaction``: ignored unless the App's config
  sets ``route_reactions`` (then a message whose text is the emoji; a removed reaction is
  always ignored). ``edit`` (Meta's "Edit messages webhook reference",
  developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/
  messages/edit; sent for WhatsApp Business app numbers, "Coexistence"; in June 2026 Meta
  noted that edits were for a while delivered as ``unsupported`` messages instead)::

      {"from": "...", "id": "<the edit's wamid>", "timestamp": "...", "type": "edit",
       "edit": {"original_message_id": "<wamid>",
                "message": {"context": {"id": "..."}, "type": "image",
                            "image": {"caption": "...", "mime_type": "...", "id": "..."}}}}

  is kind ``edit`` like Slack's and Telegram's edits: ``platform_message_id`` is
  ``original_message_id``, the dedupe key the edit's own id (also in
  ``extra.edit_message_id``), and the edited message (text, or media with a caption) is read
  like any message. Other types (``unsupported``, ``system``, ``order``, ``contacts``...) are
  skipped; each skipped message is listed in the ledger's ``meta.skipped``, and when nothing
  is left the delivery's reason says why.
* **Error notices** are acknowledged, never malformed, and route nothing. Meta reports errors
  in ``errors[]`` (``code``, ``title``, ``message``, ``error_data.details``): on a change
  (about the business's number or app), or on a ``messages[]`` item (an ``unsupported`` type,
  131051). When WhatsApp Web reconnects, Meta sends a ``messages[]`` item of type
  ``interactive`` with no ``interactive`` object beside the change's ``errors[]`` 131000
  "Something went wrong" / "Unsupported webhook payload" (webitel/chat_manager
  ``bot/facebook/whatsapp.go`` quotes one). So a message item that carries ``errors[]``, or
  lacks its content object in a change that carries them, is skipped as ``error notice``;
  every error goes to ``meta.errors`` (code, title, details, and the ``message_id`` it came
  with) and its code to ``meta.error_codes``, and the delivery's reason lists
  ``error notification: (#code) title``.
"""
from __future__ import annotations

from orqo.errors import MalformedDelivery
from orqo.messages import Message
from orqo.stages import ParseResult
from orqo_whatsapp.contents import HANDLERS
from orqo_whatsapp.contents import Skipped
from orqo_whatsapp.contents import read_context
from orqo_whatsapp.readers import MAX_ID
from orqo_whatsapp.readers import error_text
from orqo_whatsapp.readers import errors
from orqo_whatsapp.readers import list_field
from orqo_whatsapp.readers import metadata
from orqo_whatsapp.readers import names
from orqo_whatsapp.readers import object_field
from orqo_whatsapp.readers import sent_at
from orqo_whatsapp.readers import shown
from orqo_whatsapp.readers import text_field

OBJECT = "whatsapp_business_account"
MAX_SKIPPED_IN_META = 50
ERROR_NOTICE = "error notice"


def _message(raw: dict, where: str, change: dict, platform: str, config: dict,
             received_at: float) -> Message:
    """One ``messages[]`` item as a Message; raises :class:`Skipped` for types not routed."""
    message_id = text_field(raw, "id", where, required=True, max_length=MAX_ID)
    wa_id = text_field(raw, "from", where, max_length=MAX_ID)
    user_id = text_field(raw, "from_user_id", where, max_length=MAX_ID)
    if not wa_id and not user_id:
        raise MalformedDelivery(f"{where} has no from (the sender's wa_id)")
    sender = wa_id or user_id
    when = sent_at(raw, where, received_at)
    group_id = text_field(raw, "group_id", where, max_length=MAX_ID)
    message_type = text_field(raw, "type", where, required=True)
    handler = HANDLERS.get(message_type)
    if handler is None:
        raise Skipped(f"unsupported message type {shown(message_type)}")
    content = object_field(raw, message_type, where, required=True)
    context, reply_to = read_context(raw, where)
    fields = {"text": "", "platform_message_id": message_id, "reply_to": reply_to,
              **handler(raw, content, f"{where}.{message_type}", config)}

    profile = change["names"].get(sender) or change["names"].get(user_id) or {}
    extra = {"type": message_type, **change["metadata"], **context}
    for key, value in (("wa_id", wa_id), ("user_id", user_id), ("group_id", group_id),
                       ("username", profile.get("username"))):
        if value:
            extra[key] = value
    extra.update(fields.pop("extra", {}))
    # orqo checks the format (and its limits) for every adapter alike: a value past them is
    # the sender's 400.
    return Message(platform=platform, sender_id=sender, chat_id=group_id or sender,
                   dedupe_key=message_id, sent_at=when, sender_name=profile.get("name"),
                   thread_id=None, extra=extra, **fields)


class _Outcome:
    """What a delivery yields: messages, skipped messages, errors, reasons for skipping."""

    def __init__(self):
        self.messages, self.skipped, self.reasons, self.errors = [], [], [], []
        self.statuses = 0

    def reason(self, text: str) -> None:
        if text not in self.reasons:
            self.reasons.append(text)

    def skip(self, raw: dict, reason: str) -> None:
        self.skipped.append({"id": raw.get("id") if isinstance(raw.get("id"), str) else None,
                             "reason": reason})

    def error(self, error: dict, message_id=None) -> None:
        self.errors.append({**error, "message_id": message_id} if message_id else error)
        self.reason(f"error notification: {error_text(error)}")

    def result(self) -> ParseResult:
        meta = {}
        if self.statuses:
            meta["statuses"] = self.statuses
        if self.skipped:
            meta["skipped"] = self.skipped[:MAX_SKIPPED_IN_META]
        if self.errors:
            kept = self.errors[:MAX_SKIPPED_IN_META]
            meta["error_codes"] = [error["code"] for error in kept if "code" in error]
            meta["errors"] = kept
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
            value = object_field(change, "value", where, required=True)
            if change.get("field") != "messages":
                outcome.reason(f"not a messages change (field {shown(change.get('field'))})")
                continue
            _change(value, f"{where}.value", entry, platform, config, received_at, outcome)
    return outcome.result()


def _change(value, where, entry, platform, config, received_at, outcome) -> None:
    """Add one ``messages`` change's messages, statuses and errors to ``outcome``."""
    statuses = list_field(value, "statuses", where)
    messages = list_field(value, "messages", where)
    change_errors = errors(value, where)
    if statuses:
        outcome.statuses += len(statuses)
        outcome.reason("status update")
    for error in change_errors:
        outcome.error(error)
    if not statuses and not messages and not change_errors:
        outcome.reason("no messages in the change")
    change = {"names": names(value, where), "metadata": metadata(value, where, entry)}
    for index, raw in enumerate(messages):
        at = f"{where}.messages[{index}]"
        if not isinstance(raw, dict):
            raise MalformedDelivery(f"{at} must be an object")
        if _is_error_notice(raw, at, change_errors, outcome):
            continue
        try:
            outcome.messages.append(_message(raw, at, change, platform, config, received_at))
        except Skipped as skipped:
            outcome.reason(str(skipped))
            outcome.skip(raw, str(skipped))


def _is_error_notice(raw: dict, where: str, change_errors: list, outcome: _Outcome) -> bool:
    """Record ``raw`` as an error notice when it is one (see the module docstring)."""
    own = errors(raw, where)
    message_type = raw.get("type")
    has_content = isinstance(message_type, str) and isinstance(raw.get(message_type), dict)
    if not own and (has_content or not change_errors):
        return False
    message_id = raw.get("id") if isinstance(raw.get("id"), str) else None
    for error in own:
        outcome.error(error, message_id[:MAX_ID] if message_id else None)
    outcome.skip(raw, ERROR_NOTICE)
    return True
