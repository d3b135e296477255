"""What starts workflow runs: webhook triggers (token URLs) and App Event triggers."""
from __future__ import annotations

import functools
import logging
import secrets
from datetime import timedelta

import re2

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates
from sqlalchemy import or_
from sqlalchemy import select

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import App
from orqo.models import AppEventTrigger
from orqo.models import WebhookTrigger
from orqo.models import as_utc
from orqo.models import utcnow
from orqo.services.apps import public_url
from orqo.services.tokens import hash_token
from orqo.services.workflows import find_workflow

logger = logging.getLogger(__name__)

HOOK_PATH = "/api/v1/hooks/"


def new_trigger_token() -> str:
    """43 URL-safe characters from 32 random bytes: the URL is the only credential."""
    return secrets.token_urlsafe(32)


def create_webhook_trigger(workflow_id: int) -> tuple[WebhookTrigger, str]:
    """Create a token URL for a workflow; return it and its token (shown this once)."""
    find_workflow(workflow_id)
    token = new_trigger_token()
    trigger = WebhookTrigger(workflow_id=workflow_id, token_hash=hash_token(token))
    db.session.add(trigger)
    db.session.commit()
    return trigger, token


def find_trigger(trigger_id: int) -> WebhookTrigger:
    """The webhook trigger with this id; 404 when there is none."""
    trigger = db.session.get(WebhookTrigger, trigger_id)
    if trigger is None:
        raise ApiError(404, "not_found", f"No webhook trigger has the id {trigger_id}.")
    return trigger


def trigger_for_token(token: str) -> WebhookTrigger | None:
    """The trigger a token URL names, or None.

    Every token, well-formed or not, costs the same: one hash and one indexed lookup, so a
    wrong, malformed or revoked token cannot be told apart by timing.
    """
    digest = hash_token(token)
    trigger = db.session.scalar(select(WebhookTrigger).where(or_(
        WebhookTrigger.token_hash == digest, WebhookTrigger.previous_token_hash == digest)))
    if trigger is None or trigger.token_hash == digest:
        return trigger
    until = as_utc(trigger.previous_valid_until)
    return trigger if until is not None and until > utcnow() else None


def set_trigger_enabled(trigger_id: int, enabled: bool) -> WebhookTrigger:
    """Enable or disable a webhook trigger."""
    trigger = find_trigger(trigger_id)
    trigger.enabled = enabled
    db.session.commit()
    return trigger


def rotate_trigger(trigger_id: int, keep_old_for: float) -> tuple[WebhookTrigger, str]:
    """Issue a new token; the old one keeps working for ``keep_old_for`` seconds."""
    if not 0 <= keep_old_for <= 30 * 86400:
        raise ApiError(422, "validation_error", "The grace period is not valid.",
                       {"keep_old_for": ["Must be between 0 and 2592000 seconds."]})
    trigger = find_trigger(trigger_id)
    token = new_trigger_token()
    trigger.previous_token_hash = trigger.token_hash if keep_old_for else None
    trigger.previous_valid_until = utcnow() + timedelta(seconds=keep_old_for) if keep_old_for else None
    trigger.token_hash = hash_token(token)
    db.session.commit()
    return trigger, token


def describe_webhook_trigger(trigger: WebhookTrigger, token: str | None = None) -> dict:
    """A trigger; with ``token`` (only right after creation or rotation) its URL path too."""
    def iso(value):
        return as_utc(value).isoformat() if value else None

    described = {"id": trigger.id, "workflow_id": trigger.workflow_id,
                 "enabled": trigger.enabled, "created_at": iso(trigger.created_at),
                 "last_used_at": iso(trigger.last_used_at),
                 "previous_token_valid_until": iso(trigger.previous_valid_until)}
    if token is not None:
        described["url_path"] = HOOK_PATH + token
        described["url"] = public_url(HOOK_PATH + token)
    return described


class EventFilterSchema(Schema):
    """Which messages an App Event trigger takes; every given field must match."""

    platform = fields.String(load_default=None, allow_none=True,
                             validate=validate.Length(min=1, max=40))
    sender_id = fields.String(load_default=None, allow_none=True,
                              validate=validate.Length(min=1, max=512))
    text_pattern = fields.String(load_default=None, allow_none=True,
                                 validate=validate.Length(min=1, max=500),
                                 metadata={"description": "A regular expression searched in the text."})

    @validates("text_pattern")
    def _compiles(self, value, data_key, **kwargs):
        if value is None:
            return
        try:
            text_pattern(value)
        except re2.error as exc:
            raise ValidationError(
                f"not a regular expression RE2 accepts (no backreferences or lookarounds): "
                f"{describe_error(exc)}") from None


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # an invalid pattern is the caller's 422, not a log line


@functools.lru_cache(maxsize=512)
def text_pattern(pattern: str):
    """``pattern`` compiled by RE2: matching takes time linear in the text, whatever the
    pattern (no backtracking), so no pattern an admin sets can stall the webhook path
    (Python's ``re`` took 30 s on ``^(a+)+$`` against 40 characters). Raises ``re2.error``."""
    return re2.compile(pattern, options=_RE2_OPTIONS)


def describe_error(exc: Exception) -> str:
    """RE2's error message as text (it gives bytes)."""
    message = exc.args[0] if exc.args else exc
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def create_app_event_trigger(workflow_id: int, app_id: str, event_filter: dict) -> AppEventTrigger:
    """Create an App Event trigger; 422 for an unknown App or an invalid filter."""
    find_workflow(workflow_id)
    errors = {}
    if db.session.get(App, app_id) is None:
        errors["app_id"] = [f"No App has the id {app_id!r}."]
    try:
        event_filter = EventFilterSchema().load(event_filter)
    except ValidationError as exc:
        errors["filter"] = exc.messages
    if errors:
        raise ApiError(422, "validation_error", "The App Event trigger is not valid.", errors)
    trigger = AppEventTrigger(workflow_id=workflow_id, app_id=app_id, filter=event_filter)
    db.session.add(trigger)
    db.session.commit()
    return trigger


def filter_matches(event_filter: dict, message) -> bool:
    """Whether a normalised message passes an App Event trigger's filter."""
    if event_filter.get("platform") and event_filter["platform"] != message.platform:
        return False
    if event_filter.get("sender_id") and event_filter["sender_id"] != message.sender_id:
        return False
    pattern = event_filter.get("text_pattern")
    if not pattern:
        return True
    try:
        return text_pattern(pattern).search(message.text) is not None
    except re2.error as exc:  # stored before patterns were checked by RE2: matches nothing
        logger.warning("App Event trigger pattern %r is not valid RE2: %s", pattern,
                       describe_error(exc))
        return False


def matching_app_event_triggers(app_id: str, message) -> list[AppEventTrigger]:
    """The enabled App Event triggers of an App whose filter the message passes."""
    triggers = db.session.scalars(select(AppEventTrigger).where(
        AppEventTrigger.app_id == app_id, AppEventTrigger.enabled.is_(True))
        .order_by(AppEventTrigger.id))
    return [trigger for trigger in triggers if filter_matches(trigger.filter or {}, message)]


def describe_app_event_trigger(trigger: AppEventTrigger) -> dict:
    """An App Event trigger, with ``warnings`` when it cannot do what one expects."""
    return {"id": trigger.id, "workflow_id": trigger.workflow_id, "app_id": trigger.app_id,
            "filter": trigger.filter, "enabled": trigger.enabled,
            "warnings": app_event_trigger_warnings(trigger)}


def app_event_trigger_warnings(trigger: AppEventTrigger) -> list[str]:
    """Why the trigger cannot start a run now: its App routes every message to Doorkeeper
    (App Event triggers only see messages while that route is off)."""
    app_record = db.session.get(App, trigger.app_id)
    if app_record is not None and app_record.route_to_doorkeeper:
        return [f"App {trigger.app_id!r} routes its messages to Doorkeeper, so this App Event "
                "trigger never fires; turn the route off (orqo apps update "
                f"{trigger.app_id} --no-route-to-doorkeeper) for it to start runs."]
    return []


def list_webhook_triggers(workflow_id: int) -> list[WebhookTrigger]:
    """A workflow's token URLs (without their tokens)."""
    find_workflow(workflow_id)
    return list(db.session.scalars(select(WebhookTrigger).filter_by(workflow_id=workflow_id)
                                   .order_by(WebhookTrigger.id)))


def delete_webhook_trigger(trigger_id: int) -> None:
    """Delete a token URL: it answers 404 from now on."""
    db.session.delete(find_trigger(trigger_id))
    db.session.commit()


def list_app_event_triggers(workflow_id: int) -> list[AppEventTrigger]:
    """A workflow's App Event triggers."""
    find_workflow(workflow_id)
    return list(db.session.scalars(select(AppEventTrigger).filter_by(workflow_id=workflow_id)
                                   .order_by(AppEventTrigger.id)))


def delete_app_event_trigger(trigger_id: int) -> None:
    """Delete an App Event trigger."""
    trigger = db.session.get(AppEventTrigger, trigger_id)
    if trigger is None:
        raise ApiError(404, "not_found", f"No App Event trigger has the id {trigger_id}.")
    db.session.delete(trigger)
    db.session.commit()
