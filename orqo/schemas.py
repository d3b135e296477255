"""marshmallow schemas for everything that crosses a boundary.

The stage schemas describe exactly the dataclasses of :mod:`orqo.stages` and
:mod:`orqo.messages`: the host validates every adapter's answer with them, and remote adapters
exchange them as JSON (raw bodies base64-encoded).
"""
from __future__ import annotations

import base64
import binascii
import re

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate

from orqo.messages import ATTACHMENT_KINDS
from orqo.messages import MESSAGE_KINDS
from orqo.messages import Attachment
from orqo.messages import Message
from orqo.stages import ChallengeResponse
from orqo.stages import ParseResult
from orqo.stages import StageRequest
from orqo.stages import Verdict

_ID = validate.Length(min=1, max=512)
# NUL cannot be stored by PostgreSQL and lone surrogates cannot be encoded as UTF-8; a platform
# may still send either (JSON escapes allow both), so they become U+FFFD instead of a 500.
UNSTORABLE_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def clean_text(value: str) -> str:
    """``value`` with characters no database can store replaced by U+FFFD."""
    return UNSTORABLE_CHARACTERS.sub("\ufffd", value)


def clean_json(value):
    """:func:`clean_text` applied to every string (keys too) in a JSON value."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


class Text(fields.String):
    """A string made storable; with ``truncate``, longer values are cut to that length."""

    def __init__(self, *args, truncate: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.truncate = truncate

    def _deserialize(self, value, attr, data, **kwargs):
        text = clean_text(super()._deserialize(value, attr, data, **kwargs))
        return text[:self.truncate] if self.truncate else text


class JsonObject(fields.Dict):
    """A JSON object made storable (see :func:`clean_json`)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return clean_json(super()._deserialize(value, attr, data, **kwargs))


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

    @post_load
    def _make(self, data, **kwargs):
        return Verdict(**data)


class AttachmentSchema(Schema):
    """:class:`orqo.messages.Attachment` as plain data."""

    kind = Text(required=True, validate=validate.OneOf(ATTACHMENT_KINDS))
    file_id = Text(load_default=None, allow_none=True, validate=_ID)
    url = Text(load_default=None, allow_none=True, validate=validate.Length(max=4096))
    mime_type = Text(load_default=None, allow_none=True, truncate=255)
    name = Text(load_default=None, allow_none=True, truncate=1024)

    @post_load
    def _make(self, data, **kwargs):
        return Attachment(**data)


class MessageSchema(Schema):
    """:class:`orqo.messages.Message` as plain data: the normalised message format."""

    platform = Text(required=True, validate=_ID)
    sender_id = Text(required=True, validate=_ID)
    text = Text(required=True)
    chat_id = Text(required=True, validate=_ID)
    platform_message_id = Text(required=True, validate=_ID)
    dedupe_key = Text(required=True, validate=_ID)
    sent_at = fields.Float(required=True)
    thread_id = Text(load_default=None, allow_none=True, validate=_ID)
    sender_name = Text(load_default=None, allow_none=True, truncate=512)
    kind = Text(load_default="message", validate=validate.OneOf(MESSAGE_KINDS))
    action_id = Text(load_default=None, allow_none=True, truncate=512)
    action_value = Text(load_default=None, allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentSchema), load_default=list)
    extra = JsonObject(keys=fields.String(), load_default=dict)

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
