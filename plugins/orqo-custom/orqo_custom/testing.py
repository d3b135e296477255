"""Deliveries as a generic sender signs them, for tests and for ``orqo send``."""
from __future__ import annotations

import json
import time
import uuid

import jsonpointer

from orqo_custom.signatures import sign


def put(document: dict, pointer: str, value) -> None:
    """Set ``value`` at the JSON ``pointer`` in ``document``, making the objects on the way."""
    parts = jsonpointer.JsonPointer(pointer).parts
    if not parts:
        raise ValueError("a field cannot be at the document's root pointer")
    for part in parts[:-1]:
        document = document.setdefault(part, {})
        if not isinstance(document, dict):
            raise ValueError(f"the pointer {pointer} passes through a field that is not an "
                             "object")
    if parts[-1] in document:
        raise ValueError(f"two fields are at the pointer {pointer}")
    document[parts[-1]] = value


def sample_delivery(signing_secret: str, config: dict, sender: str, text: str,
                    thread: str | None = None) -> tuple[bytes, dict]:
    """A JSON message laid out by the App's (validated) ``config`` pointers and signed by its
    ``mode``: the ``X-Signature-256``-style header, or Standard Webhooks headers. The message
    id (and ``webhook-id``) is new on every call."""
    message_id = "msg_" + uuid.uuid4().hex
    document: dict = {}
    for pointer, value in ((config["id_pointer"], message_id),
                           (config["sender_pointer"], sender),
                           (config["text_pointer"], text),
                           (config["thread_pointer"], thread)):
        if value is not None:
            put(document, pointer, value)
    body = json.dumps(document, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if config["mode"] == "standard-webhooks":
        from orqo.testing.signers import standard_webhooks_headers

        headers.update(standard_webhooks_headers(signing_secret, body, message_id, time.time()))
    else:
        headers[config["signature_header"]] = sign(
            signing_secret, body, config["signature_algorithm"], config["signature_encoding"],
            config["signature_prefix"])
    return body, headers
