"""Request and response schemas of the API; the OpenAPI document is generated from them."""
from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from orqo.services.work_queue import MAX_BATCH
from orqo.services.work_queue import MAX_LEASE_SECONDS

THIRTY_DAYS = 30 * 86400


class StrictSchema(Schema):
    """Unknown fields are an error, not silently dropped."""


class AttachmentOut(Schema):
    kind = fields.String()
    file_id = fields.String(allow_none=True)
    url = fields.String(allow_none=True)
    mime_type = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class RoutedMessageOut(Schema):
    """A stored, normalised message as the agent runtime reads it."""

    id = fields.Integer()
    direction = fields.String(metadata={"enum": ["inbound", "outbound"]})
    app_id = fields.String()
    contact_id = fields.Integer(allow_none=True)
    platform = fields.String()
    kind = fields.String()
    sender_id = fields.String()
    sender_name = fields.String(allow_none=True)
    chat_id = fields.String()
    thread_id = fields.String(allow_none=True)
    reply_to = fields.String(allow_none=True, metadata={
        "description": "The platform id of the message this one answers, when it says so."})
    text = fields.String()
    action_id = fields.String(allow_none=True)
    action_value = fields.String(allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentOut))
    platform_message_id = fields.String()
    sent_at = fields.Float()
    extra = fields.Dict(metadata={"description": "Platform details the adapter kept."})


class AwaitReplyIn(StrictSchema):
    """How long a waitbox waits, and the agent's reference (a message's ``await_reply``)."""

    expires_in = fields.Float(required=True, validate=validate.Range(
        min=0, min_inclusive=False, max=THIRTY_DAYS),
        metadata={"description": "Seconds until the waitbox expires."})
    reference = fields.String(load_default="", validate=validate.Length(max=512),
                              metadata={"description": "The agent's own reference (run, step)."})


class WaitboxIn(AwaitReplyIn):
    """Open a waitbox: wait for the next message from a Contact on an App."""

    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    contact_id = fields.Integer(required=True, strict=True)
    thread_id = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(min=1, max=512))


class WaitboxOut(Schema):
    id = fields.Integer()
    app_id = fields.String()
    contact_id = fields.Integer()
    thread_id = fields.String(allow_none=True)
    reference = fields.String()
    question_id = fields.Integer(allow_none=True, metadata={
        "description": "The outbound message whose answer this waitbox awaits, if any."})
    reply_key = fields.String(allow_none=True, metadata={
        "description": "Once that message is sent: the reply_to an answer to it carries."})
    status = fields.String(metadata={"enum": ["waiting", "answered", "expired", "cancelled"]})
    message_id = fields.Integer(allow_none=True)
    message = fields.Nested(RoutedMessageOut, allow_none=True)
    expires_at = fields.String()


class ClaimIn(StrictSchema):
    """Claim a batch of Doorkeeper's messages."""

    claimant = fields.String(required=True, validate=validate.Length(min=1, max=200))
    limit = fields.Integer(load_default=10, strict=True,
                           validate=validate.Range(min=1, max=MAX_BATCH))
    lease_seconds = fields.Float(load_default=60.0, validate=validate.Range(
        min=0, min_inclusive=False, max=MAX_LEASE_SECONDS))


class EntryOut(Schema):
    entry_id = fields.Integer()
    conversation_id = fields.Integer()
    session_id = fields.Integer()
    status = fields.String()
    created_at = fields.String(metadata={"description": "When orqo added the entry (ISO 8601)."})
    message = fields.Nested(RoutedMessageOut)


class ClaimOut(Schema):
    claim_token = fields.String()
    lease_until = fields.String()
    messages = fields.List(fields.Nested(EntryOut))


class AckIn(StrictSchema):
    """Acknowledge entries handled under a claim."""

    claim_token = fields.String(required=True, validate=validate.Length(min=1, max=64))
    entry_ids = fields.List(fields.Integer(strict=True), required=True,
                            validate=validate.Length(min=1, max=MAX_BATCH))


class AckOut(Schema):
    acked = fields.List(fields.Integer())
    rejected = fields.List(fields.Integer())


class SessionOut(Schema):
    id = fields.Integer()
    started_at = fields.String()
    ended_at = fields.String(allow_none=True)


class ConversationOut(Schema):
    id = fields.Integer()
    app_id = fields.String()
    contact_id = fields.Integer()
    chat_id = fields.String()
    thread_id = fields.String(allow_none=True)
    sessions = fields.List(fields.Nested(SessionOut))
    messages = fields.List(fields.Nested(EntryOut), metadata={
        "description": "One page of the conversation's entries, oldest first."})
    next_cursor = fields.String(allow_none=True, metadata={
        "description": "Pass as cursor for the next page; null on the last page."})


class TriggerIn(StrictSchema):
    """Start a run of a workflow (``task`` is accepted for ``input``, as in older guides)."""

    workflow_id = fields.Integer(required=True, strict=True)
    input = fields.Raw(load_default=None, allow_none=True)
    task = fields.Raw(load_default=None, allow_none=True)
    metadata = fields.Dict(keys=fields.String(), load_default=dict)


class RunStartedOut(Schema):
    workflow_run_id = fields.Integer()
    status = fields.String(metadata={"enum": ["started"]})


class RunOut(Schema):
    id = fields.Integer()
    workflow_id = fields.Integer()
    trigger_kind = fields.String(metadata={"enum": ["webhook", "api", "app_event"]})
    trigger_ref = fields.String()
    input = fields.Raw(allow_none=True)
    metadata = fields.Dict()
    status = fields.String(metadata={"enum": ["queued", "claimed", "started", "succeeded",
                                              "failed"]})
    output = fields.Raw(allow_none=True)
    error = fields.String()
    created_at = fields.String()
    started_at = fields.String(allow_none=True)
    finished_at = fields.String(allow_none=True)


class RunClaimOut(Schema):
    claim_token = fields.String()
    lease_until = fields.String()
    runs = fields.List(fields.Nested(RunOut))


class RunProgressIn(StrictSchema):
    """Report progress on a claimed run."""

    claim_token = fields.String(required=True, validate=validate.Length(min=1, max=64))
    status = fields.String(required=True, validate=validate.OneOf(["started", "succeeded",
                                                                   "failed"]))
    output = fields.Raw(load_default=None, allow_none=True)
    error = fields.String(load_default="", validate=validate.Length(max=10000))
    lease_seconds = fields.Float(load_default=300.0, validate=validate.Range(
        min=0, min_inclusive=False, max=MAX_LEASE_SECONDS))


class MessageIn(StrictSchema):
    """Send a message to a Contact through an App's platform."""

    app_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    contact_id = fields.Integer(required=True, strict=True)
    text = fields.String(required=True, validate=validate.Length(min=1), metadata={
        "description": "At most what the platform takes (4,096 characters on WhatsApp and "
                       "Telegram, 40,000 on Slack)."})
    in_reply_to = fields.Integer(load_default=None, allow_none=True, strict=True, metadata={
        "description": "The id of a message orqo received on the App: reply in its thread "
                       "(Slack), to it (Telegram reply_parameters, WhatsApp context)."})
    await_reply = fields.Nested(AwaitReplyIn, load_default=None, allow_none=True)


class SendAttemptOut(Schema):
    attempted_at = fields.String()
    result = fields.String(metadata={"enum": ["sent", "retry", "failed"]})
    error = fields.String(metadata={"description": "The reason of a retry or a failure."})
    duration_ms = fields.Float()


class MessageOut(RoutedMessageOut):
    """Any message, inbound or outbound, and what became of it."""

    status = fields.String(metadata={"enum": ["received", "queued", "sent", "failed"]})
    created_at = fields.String()
    outcome = fields.String(metadata={"description": "Inbound: the ledger's outcome."})
    handler = fields.String(allow_none=True, metadata={"description": "Inbound: who took it."})
    delivery_id = fields.Integer(allow_none=True, metadata={
        "description": "Inbound: the webhook delivery that carried it."})
    attempts = fields.Integer(metadata={"description": "Outbound: send attempts so far."})
    last_error = fields.String(metadata={
        "description": "Outbound: the platform's reason of the last failed attempt."})
    in_reply_to = fields.Integer(allow_none=True, metadata={
        "description": "Outbound: the received message it answers."})
    next_attempt_at = fields.String(allow_none=True, metadata={
        "description": "Outbound, queued: when the next attempt is due."})
    delivered_at = fields.String(allow_none=True, metadata={
        "description": "Outbound: when the platform took it."})
    waitbox = fields.Nested(WaitboxOut, allow_none=True, metadata={
        "description": "Outbound: the waitbox opened with await_reply."})
    attempt_log = fields.List(fields.Nested(SendAttemptOut), metadata={
        "description": "Outbound: every attempt, oldest first (a retry by an operator keeps "
                       "the earlier ones)."})
