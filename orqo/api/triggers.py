"""Starting workflow runs from outside: token URLs (``/api/v1/hooks/<token>``) and the API
trigger (``/api/v1/trigger``). Both take an ``Idempotency-Key`` and are rate-limited per caller."""
from __future__ import annotations

from flask import current_app
from flask import g
from flask import request
from marshmallow import ValidationError

from orqo.api import Blueprint
from orqo.api.auth import require_scope
from orqo.api.schemas import RunStartedOut
from orqo.api.schemas import TriggerIn
from orqo.bodies import parse_json
from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import Workflow
from orqo.models import utcnow
from orqo.services import idempotency
from orqo.services import rate_limits
from orqo.services.triggers import trigger_for_token
from orqo.services.workflows import API_TRIGGER
from orqo.services.workflows import start_run

bp = Blueprint("triggers", __name__, url_prefix="/api/v1",
               description="Start workflow runs: token URLs and the API trigger.")

IDEMPOTENCY_HEADER = {"Idempotency-Key": {
    "description": "A repeated key within 24 hours returns the first answer and starts nothing.",
    "schema": {"type": "string", "maxLength": idempotency.MAX_KEY_LENGTH}}}


def read_json_body():
    """The request's JSON body; ``{}`` when empty; 415 for another content type, 422 bad JSON."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "unsupported_media_type",
                       f"The body must be JSON sent as Content-Type: application/json, "
                       f"not {mimetype or 'without a content type'}.")
    return parse_json(raw)


def start_idempotent(scope: str, workflow, trigger_kind: str, trigger_ref: str, run_input,
                     meta=None):
    """Start a run unless this ``Idempotency-Key`` was answered already; commit; answer."""
    def start() -> dict:
        run = start_run(workflow, trigger_kind, trigger_ref, run_input, meta)
        return {"workflow_run_id": run.id, "status": "started"}

    return idempotency.answer_once(
        scope, idempotency.check_key(request.headers.get("Idempotency-Key")), 201, start)


@bp.route("/hooks/<path:token>", methods=["POST"])
@bp.doc(parameters=[{"in": "header", "name": name, **spec}
                    for name, spec in IDEMPOTENCY_HEADER.items()],
        requestBody={"required": False, "content": {"application/json": {"schema": {}}}})
@bp.response(201, RunStartedOut)
def hook(token):
    """Start a run of the token's workflow; the JSON body becomes the run's input."""
    trigger = trigger_for_token(token)
    if trigger is None:
        raise ApiError(404, "not_found", "No webhook trigger has this URL.")
    if not trigger.enabled:
        raise ApiError(409, "trigger_disabled", "This webhook trigger is disabled.")
    rate_limits.hit(f"hook:{trigger.id}", current_app.config["TRIGGER_RATE_LIMIT"], 60)
    run_input = read_json_body()
    trigger.last_used_at = utcnow()
    return start_idempotent(f"hook:{trigger.id}", db.session.get(Workflow, trigger.workflow_id),
                            "webhook", str(trigger.id), run_input)


@bp.route("/trigger", methods=["POST"])
@require_scope(bp, "trigger")
@bp.doc(parameters=[{"in": "header", "name": name, **spec}
                    for name, spec in IDEMPOTENCY_HEADER.items()],
        requestBody={"required": True, "content": {"application/json": {"schema": TriggerIn}}})
@bp.response(201, RunStartedOut)
def api_trigger():
    """Start a run of any workflow by id, with an API token that has the ``trigger`` scope."""
    rate_limits.hit(f"token:{g.api_token.id}", current_app.config["TRIGGER_RATE_LIMIT"], 60)
    body = read_json_body()
    try:
        data = TriggerIn().load(body if isinstance(body, dict) else {"_": body})
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "The request is not valid.", exc.messages) from None
    if data["input"] is not None and data["task"] is not None:
        raise ApiError(422, "validation_error", "The request is not valid.",
                       {"task": ["Give input or task, not both."]})
    workflow = db.session.get(Workflow, data["workflow_id"])
    if workflow is None:
        raise ApiError(404, "not_found", f"No workflow has the id {data['workflow_id']}.")
    run_input = data["input"] if data["input"] is not None else data["task"]
    return start_idempotent(f"token:{g.api_token.id}", workflow, API_TRIGGER, str(g.api_token.id),
                            run_input, data["metadata"])
