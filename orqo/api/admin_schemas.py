"""Schemas of the management API (``admin`` scope)."""
from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from orqo.api.pagination import PageArgs
from orqo.models import DELIVERY_OUTCOMES
from orqo.models import DIRECTIONS
from orqo.models import MESSAGE_OUTCOMES
from orqo.services.tokens import SCOPES
from orqo.services.outbound import MESSAGE_STATUSES
from orqo.services.triggers import EventFilterSchema
from orqo.services.waitboxes import WAITBOX_STATUSES

NAME = validate.Length(min=1, max=200)
SECRETS = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)),
                      values=fields.String(validate=validate.Length(max=10000)))


def page_of(item_schema, name):
    """A page schema: ``{"items": [...], "next_cursor": ...}``."""
    return Schema.from_dict({"items": fields.List(fields.Nested(item_schema)),
                             "next_cursor": fields.String(allow_none=True)}, name=name)


class AppIn(Schema):
    name = fields.String(required=True, validate=NAME)
    adapter = fields.String(required=True, validate=validate.Length(min=1, max=40))
    credentials = SECRETS
    config = fields.Dict(keys=fields.String(), load_default=dict)
    route_to_doorkeeper = fields.Boolean(load_default=True)


class AppPatch(Schema):
    """Change an App: credentials given replace those keys; config given is validated whole."""

    name = fields.String(validate=NAME)
    credentials = SECRETS
    config = fields.Dict(keys=fields.String())
    route_to_doorkeeper = fields.Boolean()
    enabled = fields.Boolean(metadata={
        "description": "false turns the App off: its deliveries are answered 403 app_disabled "
                       "and nothing new can be sent through it (409); true turns it on again."})


class AppActivity(Schema):
    last_delivery_at = fields.String(allow_none=True, metadata={
        "description": "When the App's newest delivery in the ledger was received."})
    deliveries_24h = fields.Integer(metadata={
        "description": "Deliveries in the ledger received in the last 24 hours."})
    errors_24h = fields.Integer(metadata={
        "description": "Those whose outcome is neither accepted nor challenge."})
    error_rate_24h = fields.Float(allow_none=True, metadata={
        "description": "errors_24h / deliveries_24h, 0 to 1; null without deliveries."})


class AppOut(Schema):
    id = fields.String()
    name = fields.String()
    adapter = fields.String()
    enabled = fields.Boolean(metadata={
        "description": "false: an operator turned the App off (deliveries refused 403)."})
    webhook_path = fields.String()
    webhook_url = fields.String(metadata={
        "description": "The full URL to give the platform: PUBLIC_BASE_URL and webhook_path."})
    credentials_set = fields.List(fields.String(), metadata={
        "description": "Which credentials are set; their values are never returned."})
    config = fields.Dict()
    route_to_doorkeeper = fields.Boolean()
    previous_credentials_until = fields.String(allow_none=True)
    created_at = fields.String()
    activity = fields.Nested(AppActivity)


class ChannelIn(Schema):
    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    sender_id = fields.String(required=True, validate=validate.Length(min=1, max=512))


class ContactIn(Schema):
    name = fields.String(required=True, validate=NAME)
    channels = fields.List(fields.Nested(ChannelIn), load_default=list)


class ContactPatch(Schema):
    """Change a Contact; channels given replace all its channels."""

    name = fields.String(validate=NAME)
    channels = fields.List(fields.Nested(ChannelIn))


class ContactOut(Schema):
    id = fields.Integer()
    name = fields.String()
    channels = fields.List(fields.Nested(ChannelIn))
    created_at = fields.String()


class ContactArgs(PageArgs):
    app_id = fields.String(load_default=None, validate=validate.Length(max=64))
    search = fields.String(load_default=None, validate=validate.Length(max=200), metadata={
        "description": "Only Contacts whose name contains this (ignoring case) or with a "
                       "Channel whose sender id contains it."})


class MessageArgs(PageArgs):
    app_id = fields.String(load_default=None, validate=validate.Length(max=64))
    direction = fields.String(load_default=None, validate=validate.OneOf(DIRECTIONS))
    status = fields.String(load_default=None, validate=validate.OneOf(MESSAGE_STATUSES),
                           metadata={"description": "received (inbound), or an outbound "
                                                    "message's queued, sent or failed."})


class WorkflowIn(Schema):
    name = fields.String(required=True, validate=NAME)
    enabled = fields.Boolean(load_default=True)


class WorkflowPatch(Schema):
    name = fields.String(validate=NAME)
    enabled = fields.Boolean()


class WorkflowDeleteArgs(Schema):
    force = fields.Boolean(load_default=False, metadata={
        "description": "Delete even when runs of the workflow are in progress (they are "
                       "deleted with it); without it such a deletion answers 409."})


class WorkflowOut(Schema):
    id = fields.Integer()
    name = fields.String()
    enabled = fields.Boolean()
    created_at = fields.String()


class WebhookTriggerOut(Schema):
    id = fields.Integer()
    workflow_id = fields.Integer()
    enabled = fields.Boolean()
    created_at = fields.String()
    last_used_at = fields.String(allow_none=True)
    previous_token_valid_until = fields.String(allow_none=True)
    url_path = fields.String(metadata={"description": "Only in the answer that creates or "
                                                      "rotates the token: shown once."})
    url = fields.String(metadata={"description": "PUBLIC_BASE_URL and url_path, the URL to "
                                                 "give the caller; shown once, like url_path."})


class TriggerPatch(Schema):
    enabled = fields.Boolean(required=True)


class RotateIn(Schema):
    keep_old_for = fields.Float(load_default=86400.0, validate=validate.Range(min=0, max=2592000))


class AppEventTriggerIn(Schema):
    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    filter = fields.Nested(EventFilterSchema, load_default=dict)


class AppEventTriggerOut(Schema):
    id = fields.Integer()
    workflow_id = fields.Integer()
    app_id = fields.String()
    filter = fields.Dict()
    enabled = fields.Boolean()
    warnings = fields.List(fields.String(), metadata={
        "description": "Why the trigger cannot start runs now (its App routes to Doorkeeper); "
                       "empty when it can."})


class TokenIn(Schema):
    name = fields.String(required=True, validate=NAME)
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True,
                         validate=validate.Length(min=1, max=len(SCOPES)))


class TokenOut(Schema):
    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    scopes = fields.List(fields.String())
    created_at = fields.String()
    revoked_at = fields.String(allow_none=True)
    last_used_at = fields.String(allow_none=True)
    token = fields.String(metadata={"description": "Only when created: shown once."})


class DeliveryMessageOut(Schema):
    id = fields.Integer()
    outcome = fields.String(metadata={"enum": list(MESSAGE_OUTCOMES)})
    reason = fields.String()
    handler = fields.String(allow_none=True)
    handler_ref = fields.String(allow_none=True)
    dedupe_key = fields.String()
    contact_id = fields.Integer(allow_none=True)
    sender_id = fields.String()
    kind = fields.String()


class DeliveryOut(Schema):
    id = fields.Integer()
    app_id = fields.String()
    received_at = fields.String()
    method = fields.String()
    client_address = fields.String(allow_none=True)
    outcome = fields.String(metadata={"enum": list(DELIVERY_OUTCOMES)})
    reason = fields.String()
    status_code = fields.Integer()
    duration_ms = fields.Float()
    meta = fields.Dict()
    messages = fields.List(fields.Nested(DeliveryMessageOut))


class DeliveryDetailOut(DeliveryOut):
    """One delivery, with what it carried (listings leave that out)."""

    headers = fields.Dict(keys=fields.String(), values=fields.String(), allow_none=True,
                          metadata={"description": "The request's headers, name to value, "
                                    "secret values (credentials, cookies, tokens) replaced by "
                                    "`[redacted]`; null when not kept (LEDGER_BODY_BYTES 0, a "
                                    "replay, or received before orqo kept them)."})
    body = fields.String(allow_none=True, metadata={
        "description": "The body's first LEDGER_BODY_BYTES bytes as UTF-8 text (bytes that are "
                       "not UTF-8 as U+FFFD); null when not kept."})
    body_bytes = fields.Integer(allow_none=True, metadata={
        "description": "The whole body's size in bytes; null for a replay or a delivery "
                       "received before orqo kept bodies."})
    body_truncated = fields.Boolean(metadata={
        "description": "Whether `body` is only the start of the body."})


class DeliveryArgs(PageArgs):
    app_id = fields.String(load_default=None, validate=validate.Length(max=64))
    outcome = fields.String(load_default=None, validate=validate.OneOf(DELIVERY_OUTCOMES))
    since = fields.AwareDateTime(load_default=None, default_timezone=None)
    until = fields.AwareDateTime(load_default=None, default_timezone=None)


class ReplayOut(Schema):
    delivery_id = fields.Integer()
    message = fields.Nested(DeliveryMessageOut)
    replay_of = fields.Integer()


class RunArgs(PageArgs):
    workflow_id = fields.Integer(load_default=None)


class WaitboxArgs(PageArgs):
    app_id = fields.String(load_default=None, validate=validate.Length(max=64))
    contact_id = fields.Integer(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(WAITBOX_STATUSES))

