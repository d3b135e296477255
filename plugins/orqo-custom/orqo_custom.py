"""orqo adapter for generic senders: ORQO's "Receive Config" webhook.

The sender signs the raw body with HMAC and sends JSON; where in the JSON the sender, text,
message id and thread are is configurable with JSON pointers. Defaults: header
``X-Signature-256`` carrying ``sha256=<hex HMAC-SHA256 of the raw body>`` keyed by the
credential ``signing_secret``; sender at ``/sender``, text at ``/text``, id at ``/id``, thread
at ``/thread``.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jsonpointer
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate
from marshmallow import validates

from orqo import hookimpl
from orqo.adapters import Adapter
from orqo.errors import MalformedDelivery
from orqo.messages import Attachment
from orqo.messages import Message
from orqo.stages import ParseResult
from orqo.stages import Verdict

ALGORITHMS = {"hmac-sha1": hashlib.sha1, "hmac-sha256": hashlib.sha256,
              "hmac-sha512": hashlib.sha512}
POINTERS = ("sender_pointer", "sender_name_pointer", "text_pointer", "id_pointer",
            "thread_pointer", "chat_pointer", "sent_at_pointer", "attachments_pointer")


class CustomCredentials(Schema):
    """The App's secret: the key the sender signs with."""

    signing_secret = fields.String(required=True, validate=validate.Length(min=1))


class CustomConfig(Schema):
    """Where the signature is and how it is made, and where the fields are in the JSON."""

    signature_header = fields.String(load_default="X-Signature-256",
                                     validate=validate.Length(min=1, max=100))
    signature_algorithm = fields.String(load_default="hmac-sha256",
                                        validate=validate.OneOf(sorted(ALGORITHMS)))
    signature_encoding = fields.String(load_default="hex", validate=validate.OneOf(["hex", "base64"]))
    # None means "<digest name>=" (sha256=); "" means no prefix.
    signature_prefix = fields.String(load_default=None, allow_none=True)
    sender_pointer = fields.String(load_default="/sender")
    sender_name_pointer = fields.String(load_default="/sender_name")
    text_pointer = fields.String(load_default="/text")
    id_pointer = fields.String(load_default="/id")
    thread_pointer = fields.String(load_default="/thread")
    chat_pointer = fields.String(load_default="/chat")
    sent_at_pointer = fields.String(load_default="/sent_at")
    attachments_pointer = fields.String(load_default="/attachments")

    @validates(*POINTERS)
    def _valid_pointer(self, value, data_key, **kwargs):
        try:
            jsonpointer.JsonPointer(value)
        except jsonpointer.JsonPointerException as exc:
            raise ValidationError(f"not a JSON pointer: {exc}") from None

    @post_load
    def _resolve_prefix(self, data, **kwargs):
        if data["signature_prefix"] is None:
            data["signature_prefix"] = data["signature_algorithm"].removeprefix("hmac-") + "="
        return data


def sign(secret: str, body: bytes, algorithm="hmac-sha256", encoding="hex", prefix=None) -> str:
    """The header value a sender puts on ``body``: ``sha256=<hex>`` with the defaults."""
    digest = hmac.new(secret.encode("utf-8"), body, ALGORITHMS[algorithm]).digest()
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")
    if prefix is None:
        prefix = algorithm.removeprefix("hmac-") + "="
    return prefix + text


def _scalar(document, pointer: str, what: str, required: bool):
    value = jsonpointer.resolve_pointer(document, pointer, None)
    if value is None or value == "":
        if required:
            raise MalformedDelivery(f"the body has no {what} at {pointer}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MalformedDelivery(f"the {what} at {pointer} must be a string or a number")
    return value


def _attachments(document, pointer: str) -> list[Attachment]:
    items = jsonpointer.resolve_pointer(document, pointer, None) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise MalformedDelivery(f"the attachments at {pointer} must be a list of objects")
    allowed = {"kind", "file_id", "url", "mime_type", "name"}
    try:
        return [Attachment(**{k: v for k, v in item.items() if k in allowed}) for item in items]
    except TypeError as exc:
        raise MalformedDelivery(f"an attachment at {pointer} is incomplete: {exc}") from None


class CustomAdapter(Adapter):
    """HMAC-signed JSON from any sender."""

    platform = "custom"
    description = "Generic HMAC-signed JSON webhooks (ORQO Receive Config)"
    credentials_schema = CustomCredentials
    config_schema = CustomConfig

    def verify(self, request):
        config = request.config
        header = config["signature_header"]
        values = request.header_values(header)
        if not values or not values[0].strip():
            return Verdict.reject(f"missing {header} header")
        if len(values) > 1:
            return Verdict.reject(f"{header} header sent more than once")
        expected = sign(request.credentials["signing_secret"], request.body,
                        config["signature_algorithm"], config["signature_encoding"],
                        config["signature_prefix"])
        given = values[0].strip()
        if config["signature_encoding"] == "hex":
            given, expected = given.lower(), expected.lower()
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            return Verdict.reject(f"{header} does not match the body")
        return Verdict.accept()

    def parse(self, request):
        config = request.config
        try:
            document = json.loads(request.body)
        except ValueError as exc:
            raise MalformedDelivery(f"the body is not valid JSON: {exc}") from None
        if not isinstance(document, dict):
            raise MalformedDelivery("the body must be a JSON object")
        sender = str(_scalar(document, config["sender_pointer"], "sender", True))
        message_id = str(_scalar(document, config["id_pointer"], "message id", True))
        text = _scalar(document, config["text_pointer"], "text", False)
        thread = _scalar(document, config["thread_pointer"], "thread", False)
        chat = _scalar(document, config["chat_pointer"], "chat", False)
        name = _scalar(document, config["sender_name_pointer"], "sender name", False)
        sent_at = _scalar(document, config["sent_at_pointer"], "sent_at", False)
        if sent_at is not None and not isinstance(sent_at, (int, float)):
            raise MalformedDelivery("sent_at must be Unix seconds")
        message = Message(
            platform=self.platform,
            sender_id=sender,
            sender_name=None if name is None else str(name),
            text="" if text is None else str(text),
            chat_id=sender if chat is None else str(chat),
            thread_id=None if thread is None else str(thread),
            platform_message_id=message_id,
            dedupe_key=message_id,
            sent_at=float(sent_at if sent_at is not None else request.received_at),
            attachments=_attachments(document, config["attachments_pointer"]),
        )
        return ParseResult(messages=[message])


@hookimpl
def register_adapters(register):
    """Provide the ``custom`` adapter."""
    register(CustomAdapter)
