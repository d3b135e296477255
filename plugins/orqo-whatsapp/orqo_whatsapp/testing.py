"""Sample WhatsApp Cloud API notifications, shaped like Meta's webhook payload examples
(developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples), for tests of this
adapter and of anything built on it.

Build message items with :func:`text_message` (or by hand), wrap them with :func:`notification`
and sign the bytes with :func:`orqo_whatsapp.sign`::

    body = encode(notification([text_message("4915112345678", "wamid.X", "Grüße 👋")],
                               contacts=[contact("4915112345678", "Jürgen")]))
"""
from __future__ import annotations

import base64
import json
import time
import uuid

#: The business phone number the samples are addressed to (Meta's metadata object).
METADATA = {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}
#: The WhatsApp Business Account id of the samples' entry.
BUSINESS_ACCOUNT_ID = "102290129340398"
#: A timestamp as Meta sends it: a string of Unix seconds.
TIMESTAMP = "1717171717"


def contact(wa_id: str, name: str) -> dict:
    """A ``contacts[]`` item: the sender's profile name and wa_id."""
    return {"profile": {"name": name}, "wa_id": wa_id}


def message(sender: str, message_id: str, message_type: str, content: dict | None = None,
            **fields) -> dict:
    """A ``messages[]`` item of ``message_type`` whose content object is ``content``."""
    item = {"from": sender, "id": message_id, "timestamp": TIMESTAMP, "type": message_type}
    if content is not None:
        item[message_type] = content
    item.update(fields)
    return item


def text_message(sender: str, message_id: str, body: str, **fields) -> dict:
    """A text message."""
    return message(sender, message_id, "text", {"body": body}, **fields)


def edit_message(sender: str, message_id: str, original_id: str, edited_type: str,
                 content: dict, **edited_fields) -> dict:
    """An ``edit`` item (Meta's "Edit messages webhook reference"): ``message_id`` is the edit's
    own id, ``original_id`` the edited message's; the edited message is of ``edited_type``
    with ``content`` (``context`` and the like in ``edited_fields``)."""
    edited = {"type": edited_type, edited_type: content, **edited_fields}
    return message(sender, message_id, "edit",
                   {"original_message_id": original_id, "message": edited})


def status(message_id: str, recipient: str, state="delivered") -> dict:
    """A ``statuses[]`` item about a message the business sent."""
    return {"id": message_id, "status": state, "timestamp": TIMESTAMP, "recipient_id": recipient,
            "conversation": {"id": "CONVERSATION_ID", "origin": {"type": "service"}},
            "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"}}


def value(messages=(), contacts=(), statuses=()) -> dict:
    """A change's ``value`` object."""
    result = {"messaging_product": "whatsapp", "metadata": dict(METADATA)}
    if contacts:
        result["contacts"] = list(contacts)
    if messages:
        result["messages"] = list(messages)
    if statuses:
        result["statuses"] = list(statuses)
    return result


def notification(messages=(), contacts=(), statuses=(), values=None) -> dict:
    """A whole notification with one entry; several changes when ``values`` is given."""
    values = values if values is not None else [value(messages, contacts, statuses)]
    return {"object": "whatsapp_business_account", "entry": [{
        "id": BUSINESS_ACCOUNT_ID,
        "changes": [{"value": each, "field": "messages"} for each in values],
    }]}


def encode(document) -> bytes:
    """UTF-8 JSON with non-ASCII characters as they are."""
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


def encode_escaped(document) -> bytes:
    """JSON in the escaped form Meta signs: non-ASCII as ``\\uXXXX``, ``/`` as ``\\/`` and
    ``@`` as ``\\u0040``. Decoding and re-encoding it gives other bytes, so a signature
    computed over re-serialised JSON fails on it."""
    text = json.dumps(document, ensure_ascii=True)
    return text.replace("/", "\\/").replace("@", "\\u0040").encode("ascii")


def sample_delivery(app_secret: str, sender: str, text: str, reply_to: str | None = None,
                    phone_number_id: str | None = None) -> tuple[bytes, dict]:
    """A signed notification of one text message from ``sender`` (a wa_id), for
    :meth:`WhatsAppAdapter.sample_delivery`: its wamid (the dedupe key) is new on every call,
    its timestamp now; ``reply_to`` quotes that message (``context``)."""
    from orqo_whatsapp import SIGNATURE_HEADER
    from orqo_whatsapp import sign

    wamid = "wamid." + base64.b64encode(b"orqo-sample." + uuid.uuid4().bytes).decode()
    context = {"context": {"from": METADATA["display_phone_number"], "id": reply_to}} \
        if reply_to else {}
    item = text_message(sender, wamid, text, timestamp=str(int(time.time())), **context)
    document = notification([item], contacts=[contact(sender, sender)])
    if phone_number_id:
        document["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = \
            phone_number_id
    body = encode(document)
    return body, {"Content-Type": "application/json",
                  SIGNATURE_HEADER: sign(app_secret, body)}
