"""marshmallow schemas of the stage data, for ORQO's HTTP adapter contract.

They describe exactly the dataclasses of :mod:`orqo.stages` and :mod:`orqo.messages`, as the
JSON that remote adapters (plugin ``orqo-remote``) and ``orqo adapter-serve`` exchange (raw
bodies base64-encoded). They check shapes and types only: the limits of the normalised message
are checked once, by the pipeline, for every adapter alike (:func:`orqo.messages.check_message`).
"""
from __future__ import annotations

import base64
import binascii

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_dump
from marshmallow import post_load
from marshmallow import validate

from orqo.messages import ATTACHMENT_KINDS
from orqo.messages import MESSAGE_KINDS
from orqo.messages import Attachment
from orqo.messages import Message
from orqo.stages import ChallengeResponse
from orqo.stages import SEND_STATUSES
from orqo.stages import ParseResult
from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo.stages import StageRequest
from orqo.stages import Verdict

class Base64Bytes(fields.Field):
    """Raw bytes, carried as base64 text in JSON."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else base64.b64encode(value).decode("ascii")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bytes):
            return value
        if not isinstance(value, str):
            raise ValidationError("Not a base64 string.")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValidationError("Not valid base64.") from exc


_PAIRS = fields.List(fields.List(fields.String(), validate=validate.Length(equal=2)), required=True)


class StageRequestSchema(Schema):
    """:class:`orqo.stages.StageRequest` as plain data."""

    app_id = fields.String(required=True)
    adapter = fields.String(required=True)
    method = fields.String(required=True, validate=validate.OneOf(["GET", "POST"]))
    path = fields.String(required=True)
    query = _PAIRS
    headers = _PAIRS
    body = Base64Bytes(required=True)
    credentials = fields.Dict(keys=fields.String(), required=True)
    config = fields.Dict(keys=fields.String(), required=True)
    received_at = fields.Float(required=True)
    previous_credentials = fields.List(fields.Dict(keys=fields.String()), load_default=list)

    @post_load
    def _make(self, data, **kwargs):
        return StageRequest(**data)


class VerdictSchema(Schema):
    """:class:`orqo.stages.Verdict` as plain data."""

    accepted = fields.Boolean(required=True, truthy={True}, falsy={False})
    reason = fields.String(load_default="")
    status = fields.Integer(load_default=401, validate=validate.Range(min=400, max=499))
    signed = fields.Boolean(load_default=True, truthy={True}, falsy={False})

    @post_dump
    def _only_unsigned(self, data, **kwargs):
        # "signed" is on the wire only when false (Verdict.accept_unsigned): the usual verdict
        # stays what remote adapters written before it answer.
        if data.get("signed", True):
            data.pop("signed", None)
        return data

    @post_load
    def _make(self, data, **kwargs):
        return Verdict(**data)


class AttachmentSchema(Schema):
    """:class:`orqo.messages.Attachment` as plain data."""

    kind = fields.String(required=True, validate=validate.OneOf(ATTACHMENT_KINDS))
    file_id = fields.String(load_default=None, allow_none=True)
    url = fields.String(load_default=None, allow_none=True)
    mime_type = fields.String(load_default=None, allow_none=True)
    name = fields.String(load_default=None, allow_none=True)

    @post_load
    def _make(self, data, **kwargs):
        return Attachment(**data)


class MessageSchema(Schema):
    """:class:`orqo.messages.Message` as plain data: the normalised message format."""

    platform = fields.String(required=True)
    sender_id = fields.String(required=True)
    text = fields.String(required=True)
    chat_id = fields.String(required=True)
    platform_message_id = fields.String(required=True)
    dedupe_key = fields.String(required=True)
    sent_at = fields.Float(required=True)
    thread_id = fields.String(load_default=None, allow_none=True)
    sender_name = fields.String(load_default=None, allow_none=True)
    kind = fields.String(load_default="message", validate=validate.OneOf(MESSAGE_KINDS))
    reply_to = fields.String(load_default=None, allow_none=True)
    action_id = fields.String(load_default=None, allow_none=True)
    action_value = fields.String(load_default=None, allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentSchema), load_default=list)
    extra = fields.Dict(keys=fields.String(), load_default=dict)

    @post_load
    def _make(self, data, **kwargs):
        return Message(**data)


class ChallengeResponseSchema(Schema):
    """:class:`orqo.stages.ChallengeResponse` as plain data."""

    body = fields.String(required=True)
    status = fields.Integer(load_default=200, validate=validate.Range(min=200, max=299))
    content_type = fields.String(load_default="text/plain")

    @post_load
    def _make(self, data, **kwargs):
        return ChallengeResponse(**data)


class ParseResultSchema(Schema):
    """:class:`orqo.stages.ParseResult` as plain data."""

    messages = fields.List(fields.Nested(MessageSchema), load_default=list)
    challenge = fields.Nested(ChallengeResponseSchema, load_default=None, allow_none=True)
    reason = fields.String(load_default="")
    meta = fields.Dict(keys=fields.String(), load_default=dict)

    @post_load
    def _make(self, data, **kwargs):
        if data["challenge"] is not None and data["messages"]:
            raise ValidationError("A challenge response carries no messages.", "challenge")
        return ParseResult(**data)


class SendRequestSchema(Schema):
    """:class:`orqo.stages.SendRequest` as plain data (``POST /deliver`` of the contract)."""

    app_id = fields.String(required=True)
    adapter = fields.String(required=True)
    credentials = fields.Dict(keys=fields.String(), required=True)
    config = fields.Dict(keys=fields.String(), required=True)
    message_id = fields.Integer(required=True, strict=True)
    recipient = fields.String(required=True)
    text = fields.String(required=True)
    chat_id = fields.String(load_default=None, allow_none=True)
    in_reply_to = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)
    attempt = fields.Integer(load_default=1, strict=True, validate=validate.Range(min=1))

    @post_load
    def _make(self, data, **kwargs):
        return SendRequest(**data)


class SendResultSchema(Schema):
    """:class:`orqo.stages.SendResult` as plain data (the answer of ``POST /deliver``)."""

    status = fields.String(required=True, validate=validate.OneOf(SEND_STATUSES))
    platform_message_id = fields.String(load_default=None, allow_none=True,
                                        validate=validate.Length(min=1, max=512))
    chat_id = fields.String(load_default=None, allow_none=True,
                            validate=validate.Length(min=1, max=512))
    thread_id = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(min=1, max=512))
    reply_key = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(min=1, max=512))
    retry_after = fields.Float(load_default=None, allow_none=True,
                               validate=validate.Range(min=0))
    reason = fields.String(load_default="")
    meta = fields.Dict(keys=fields.String(), load_default=dict)

    @post_load
    def _make(self, data, **kwargs):
        if data["status"] == "sent" and not data["platform_message_id"]:
            raise ValidationError("A sent message has a platform_message_id.",
                                  "platform_message_id")
        if data["status"] == "sent" and not data["reply_key"]:
            data["reply_key"] = data["platform_message_id"]
        return SendResult(**data)
