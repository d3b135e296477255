"""orqo adapter for generic senders: ORQO's "Receive Config" webhook.

The sender signs the raw body and sends JSON; where in the JSON the sender, text, message id
and thread are is configurable with JSON pointers (sender ``/sender``, text ``/text``, id
``/id``, thread ``/thread`` by default). Two signature modes (config ``mode``):

* ``hmac`` (default): header ``X-Signature-256`` carrying ``sha256=<hex HMAC-SHA256 of the raw
  body>`` keyed by the credential ``signing_secret``; header, algorithm (sha1, sha256, sha512),
  encoding (hex, base64) and prefix are configurable. The message id is the dedupe key.
* ``standard-webhooks``: the Standard Webhooks v1 scheme (github.com/standard-webhooks,
  ``spec/standard-webhooks.md``): ``webhook-id``, ``webhook-timestamp`` (Unix seconds, within
  ``timestamp_tolerance`` of receipt, 300 s by default, in either direction) and
  ``webhook-signature``, a space-separated list of ``v1,<base64 HMAC-SHA256 of
  "id.timestamp.body">``, any one of which may match (senders send several while they rotate).
  The secret is ``whsec_<base64 of 24 to 64 random bytes>``. ``webhook-id`` is the dedupe key:
  it stays the same on every retry of one event.

A message may say which message it answers: ``reply_to_pointer`` (``/reply_to`` by default)
gives its ``reply_to`` (a string or a number), so a sender answering a message orqo sent
(see below) points at the id it got for it, and the answer reaches the waitbox bound to it.

Sending (:mod:`orqo_custom.reply`): with config ``reply_url`` (an http(s) URL) and the
credential ``reply_secret`` (a Standard Webhooks ``whsec_`` secret, required with it), agents'
messages are POSTed there as JSON signed with Standard Webhooks. Without ``reply_url`` the App
cannot send (:meth:`CustomAdapter.can_send`). Changing the reply URL's origin needs the
credentials again (:meth:`CustomAdapter.credentials_destination`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac

import jsonpointer
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import pre_load
from marshmallow import validate
from marshmallow import validates

from orqo import hookimpl
from orqo.adapters import Adapter
from orqo.adapters import BaseUrl
from orqo.adapters import SampleDeliveryError
from orqo.adapters import hmac_secret
from orqo.adapters import load_json
from orqo.adapters import url_origin
from orqo.errors import MalformedDelivery
from orqo.messages import Attachment
from orqo.messages import Message
from orqo.stages import ParseResult
from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo.stages import Verdict
from orqo_custom.reply import send_reply
from orqo_custom.signatures import ALGORITHMS
from orqo_custom.signatures import UNIX_SECONDS
from orqo_custom.signatures import WEBHOOK_ID
from orqo_custom.signatures import sign
from orqo_custom.signatures import standard_webhooks_key

__all__ = ["CustomAdapter", "CustomConfig", "CustomCredentials", "register_adapters", "sign",
           "standard_webhooks_key"]

POINTERS = ("sender_pointer", "sender_name_pointer", "text_pointer", "id_pointer",
            "thread_pointer", "chat_pointer", "sent_at_pointer", "attachments_pointer",
            "reply_to_pointer")
STANDARD_WEBHOOKS = "standard-webhooks"
WHSEC_RULE = "a Standard Webhooks secret: whsec_ + base64 of 24 to 64 bytes"


class CustomCredentials(Schema):
    """The App's secrets: the key the sender signs with, and the key replies are signed with."""

    signing_secret = hmac_secret(metadata={
        "description": "The key the sender signs deliveries with (at least 16 bytes; in "
                       "standard-webhooks mode a whsec_ secret)."})
    #: Signs what orqo POSTs to ``reply_url``; required when it is set.
    reply_secret = fields.String(validate=validate.Length(min=1, max=200), metadata={
        "description": "A whsec_ Standard Webhooks secret that signs what orqo POSTs to "
                       "reply_url; required with it."})


class CustomConfig(Schema):
    """Where the signature is and how it is made, and where the fields are in the JSON."""

    mode = fields.String(load_default="hmac", validate=validate.OneOf(["hmac", STANDARD_WEBHOOKS]),
                         metadata={"description": "How deliveries are signed: one HMAC header, "
                                                  "or Standard Webhooks v1."})
    timestamp_tolerance = fields.Integer(
        load_default=300, validate=validate.Range(min=1, max=3600),
        metadata={"description": "Standard Webhooks: seconds webhook-timestamp may be off "
                                 "from receipt, either way."})
    signature_header = fields.String(load_default="X-Signature-256",
                                     validate=validate.Length(min=1, max=100),
                                     metadata={"description": "hmac mode: the header carrying "
                                                              "the signature."})
    signature_algorithm = fields.String(load_default="hmac-sha256",
                                        validate=validate.OneOf(sorted(ALGORITHMS)),
                                        metadata={"description": "hmac mode: the HMAC digest "
                                                                 "of the raw body."})
    signature_encoding = fields.String(load_default="hex",
                                       validate=validate.OneOf(["hex", "base64"]),
                                       metadata={"description": "hmac mode: how the digest is "
                                                                "written."})
    # None means "<digest name>=" (sha256=); "" means no prefix.
    signature_prefix = fields.String(load_default=None, allow_none=True, metadata={
        "description": "hmac mode: the text before the digest; null: <digest>= (sha256=), "
                       "empty: none."})
    sender_pointer = fields.String(load_default="/sender", metadata={
        "description": "JSON pointer to the sender id (required)."})
    sender_name_pointer = fields.String(load_default="/sender_name", metadata={
        "description": "JSON pointer to the sender's display name."})
    text_pointer = fields.String(load_default="/text", metadata={
        "description": "JSON pointer to the message's text."})
    id_pointer = fields.String(load_default="/id", metadata={
        "description": "JSON pointer to the message id, the dedupe key (required in hmac "
                       "mode; in standard-webhooks mode webhook-id stands in)."})
    thread_pointer = fields.String(load_default="/thread", metadata={
        "description": "JSON pointer to the thread id."})
    chat_pointer = fields.String(load_default="/chat", metadata={
        "description": "JSON pointer to the chat id."})
    sent_at_pointer = fields.String(load_default="/sent_at", metadata={
        "description": "JSON pointer to when it was sent (Unix seconds)."})
    attachments_pointer = fields.String(load_default="/attachments", metadata={
        "description": "JSON pointer to a list of attachment objects."})
    reply_to_pointer = fields.String(load_default="/reply_to", metadata={
        "description": "JSON pointer to the id of the message it answers."})
    #: Where agents' messages are POSTed; unset: the App cannot send.
    reply_url = fields.String(load_default=None, allow_none=True,
                              validate=[validate.Length(max=2000), BaseUrl()], metadata={
                                  "description": "Where agents' messages are POSTed, signed "
                                                 "with reply_secret; null: the App cannot "
                                                 "send."})

    @pre_load
    def _blank_reply_url_is_none(self, data, **kwargs):
        # `--config reply_url=` on the command line clears it.
        if isinstance(data, dict) and isinstance(data.get("reply_url"), str) \
                and not data["reply_url"].strip():
            data = {**data, "reply_url": None}
        return data

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

    @classmethod
    def validate_settings(cls, credentials, config):
        """Also check that a Standard Webhooks App's secret is a ``whsec_`` secret, and that
        an App with a ``reply_url`` has a ``reply_secret`` (a ``whsec_`` secret)."""
        credentials, config = super().validate_settings(credentials, config)
        errors = {}
        if config["mode"] == STANDARD_WEBHOOKS and not standard_webhooks_key(
                credentials["signing_secret"]):
            errors["signing_secret"] = [f"Standard Webhooks mode needs {WHSEC_RULE}."]
        reply_secret = credentials.get("reply_secret")
        if reply_secret is not None and not standard_webhooks_key(reply_secret):
            errors["reply_secret"] = [f"Must be {WHSEC_RULE}."]
        elif reply_secret is None and config["reply_url"]:
            errors["reply_secret"] = ["Required with the config reply_url: replies are signed "
                                      f"with it ({WHSEC_RULE})."]
        if errors:
            raise ValidationError({"credentials": errors})
        return credentials, config

    @classmethod
    def can_send(cls, config: dict) -> bool:
        """An App can send when its config has a ``reply_url``."""
        return bool((config or {}).get("reply_url"))

    @classmethod
    def credentials_destination(cls, config: dict) -> str | None:
        """The origin of ``reply_url`` (where signed replies go), None without one."""
        return url_origin((config or {}).get("reply_url"))

    @classmethod
    def sample_delivery(cls, credentials, config, sender_id, text, thread_id=None):
        """A JSON message at the App's pointers, signed as its ``mode`` says
        (:func:`orqo_custom.testing.sample_delivery`), with a new message id each time."""
        from orqo_custom import testing

        try:
            return testing.sample_delivery(credentials["signing_secret"], config, sender_id,
                                           text, thread_id)
        except (ValueError, jsonpointer.JsonPointerException) as exc:
            raise SampleDeliveryError(f"cannot lay out the message: {exc}") from None

    def send(self, request: SendRequest, http) -> SendResult:
        """POST the message to ``reply_url``, signed with ``reply_secret``
        (:func:`orqo_custom.reply.send_reply` says what each answer means)."""
        return send_reply(request, http)

    def verify(self, request):
        if request.config.get("mode") == STANDARD_WEBHOOKS:
            return self._verify_standard_webhooks(request)
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

    def _verify_standard_webhooks(self, request):
        msg_id = request.header("webhook-id")
        timestamp = request.header("webhook-timestamp")
        signatures = request.header("webhook-signature")
        for name, value in (("webhook-id", msg_id), ("webhook-timestamp", timestamp),
                            ("webhook-signature", signatures)):
            if not value or not value.strip():
                return Verdict.reject(f"missing {name} header")
        if not WEBHOOK_ID.match(msg_id):
            return Verdict.reject("webhook-id is not a valid id")
        if not UNIX_SECONDS.match(timestamp):
            return Verdict.reject("webhook-timestamp is not Unix seconds (1 to 15 ASCII digits)")
        skew = int(timestamp) - request.received_at
        if skew < -request.config["timestamp_tolerance"]:
            return Verdict.reject("webhook-timestamp is too old")
        if skew > request.config["timestamp_tolerance"]:
            return Verdict.reject("webhook-timestamp is in the future")
        key = standard_webhooks_key(request.credentials["signing_secret"])
        if key is None:
            return Verdict.reject("the App's signing secret is not a whsec_ secret")
        signed = f"{msg_id}.{timestamp}.".encode() + request.body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
        for candidate in signatures.split():
            version, _, value = candidate.partition(",")
            if version == "v1" and hmac.compare_digest(value.encode(), expected):
                return Verdict.accept()
        return Verdict.reject("no webhook-signature matches the body")

    def parse(self, request):
        config = request.config
        standard = config.get("mode") == STANDARD_WEBHOOKS
        document = load_json(request.body)
        if not isinstance(document, dict):
            raise MalformedDelivery("the body must be a JSON object")
        sender = str(_scalar(document, config["sender_pointer"], "sender", True))
        message_id = _scalar(document, config["id_pointer"], "message id", not standard)
        webhook_id = request.header("webhook-id") if standard else None
        message_id = str(message_id) if message_id is not None else webhook_id
        text = _scalar(document, config["text_pointer"], "text", False)
        thread = _scalar(document, config["thread_pointer"], "thread", False)
        chat = _scalar(document, config["chat_pointer"], "chat", False)
        name = _scalar(document, config["sender_name_pointer"], "sender name", False)
        sent_at = _scalar(document, config["sent_at_pointer"], "sent_at", False)
        reply_to = _scalar(document, config["reply_to_pointer"], "reply_to", False)
        if sent_at is not None and not isinstance(sent_at, (int, float)):
            raise MalformedDelivery("sent_at must be Unix seconds")
        try:
            sent_at = float(sent_at if sent_at is not None else request.received_at)
        except OverflowError:
            raise MalformedDelivery("sent_at is not a time: too large") from None
        message = Message(
            platform=self.platform,
            sender_id=sender,
            sender_name=None if name is None else str(name),
            text="" if text is None else str(text),
            chat_id=sender if chat is None else str(chat),
            thread_id=None if thread is None else str(thread),
            reply_to=None if reply_to is None else str(reply_to),
            platform_message_id=message_id,
            dedupe_key=webhook_id or message_id,
            sent_at=sent_at,
            attachments=_attachments(document, config["attachments_pointer"]),
        )
        return ParseResult(messages=[message])


@hookimpl
def register_adapters(register):
    """Provide the ``custom`` adapter."""
    register(CustomAdapter)
