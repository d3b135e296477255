"""``/api/v1/workflows`` with their token URLs and App Event triggers, and ``/api/v1/runs``."""
from __future__ import annotations

from orqo.api import SHOWN_ONCE
from orqo.api import Blueprint
from orqo.api.admin_schemas import AppEventTriggerIn
from orqo.api.admin_schemas import AppEventTriggerOut
from orqo.api.admin_schemas import RotateIn
from orqo.api.admin_schemas import RunArgs
from orqo.api.admin_schemas import TriggerPatch
from orqo.api.admin_schemas import WebhookTriggerOut
from orqo.api.admin_schemas import WorkflowDeleteArgs
from orqo.api.admin_schemas import WorkflowIn
from orqo.api.admin_schemas import WorkflowOut
from orqo.api.admin_schemas import WorkflowPatch
from orqo.api.admin_schemas import page_of
from orqo.api.auth import require_scope
from orqo.api.pagination import page
from orqo.api.schemas import RunOut
from orqo.models import WorkflowRun
from orqo.services import triggers as trigger_service
from orqo.services import workflows as workflow_service

bp = Blueprint("workflows", __name__, url_prefix="/api/v1",
               description="Workflows, their triggers and runs.")


@bp.route("/workflows", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, WorkflowOut(many=True))
def list_workflows():
    """Every workflow."""
    return [workflow_service.describe_workflow(w) for w in workflow_service.list_workflows()]


@bp.route("/workflows", methods=["POST"])
@require_scope(bp, "admin")
@bp.arguments(WorkflowIn)
@bp.response(201, WorkflowOut)
def create_workflow(body):
    """Create a workflow."""
    return workflow_service.describe_workflow(
        workflow_service.create_workflow(body["name"], body["enabled"]))


@bp.route("/workflows/<int:workflow_id>", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, WorkflowOut)
def get_workflow(workflow_id):
    """One workflow."""
    return workflow_service.describe_workflow(workflow_service.find_workflow(workflow_id))


@bp.route("/workflows/<int:workflow_id>", methods=["PATCH"])
@require_scope(bp, "admin")
@bp.arguments(WorkflowPatch)
@bp.response(200, WorkflowOut)
def update_workflow(body, workflow_id):
    """Rename, enable or disable a workflow."""
    return workflow_service.describe_workflow(workflow_service.update_workflow(workflow_id, body))


@bp.route("/workflows/<int:workflow_id>", methods=["DELETE"])
@require_scope(bp, "admin")
@bp.arguments(WorkflowDeleteArgs, location="query")
@bp.response(204)
def delete_workflow(args, workflow_id):
    """Delete a workflow with its triggers and runs; refused (409 ``runs_in_progress``) while
    runs of it are in progress, unless ``force=true``."""
    workflow_service.delete_workflow(workflow_id, force=args["force"])


@bp.route("/workflows/<int:workflow_id>/triggers", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, WebhookTriggerOut(many=True))
def list_triggers(workflow_id):
    """A workflow's token URLs (their tokens are never shown again)."""
    return [trigger_service.describe_webhook_trigger(t)
            for t in trigger_service.list_webhook_triggers(workflow_id)]


@bp.route("/workflows/<int:workflow_id>/triggers", methods=["POST"])
@require_scope(bp, "admin")
@bp.response(201, WebhookTriggerOut)
def create_trigger(workflow_id):
    """Create a token URL; ``url_path`` is in this answer only."""
    trigger, token = trigger_service.create_webhook_trigger(workflow_id)
    return trigger_service.describe_webhook_trigger(trigger, token), SHOWN_ONCE


@bp.route("/triggers/<int:trigger_id>", methods=["PATCH"])
@require_scope(bp, "admin")
@bp.arguments(TriggerPatch)
@bp.response(200, WebhookTriggerOut)
def update_trigger(body, trigger_id):
    """Enable or disable a token URL (disabled: 409)."""
    return trigger_service.describe_webhook_trigger(
        trigger_service.set_trigger_enabled(trigger_id, body["enabled"]))


@bp.route("/triggers/<int:trigger_id>/rotate", methods=["POST"])
@require_scope(bp, "admin")
@bp.arguments(RotateIn)
@bp.response(200, WebhookTriggerOut)
def rotate_trigger(body, trigger_id):
    """Issue a new token URL; the old one works for ``keep_old_for`` seconds."""
    trigger, token = trigger_service.rotate_trigger(trigger_id, body["keep_old_for"])
    return trigger_service.describe_webhook_trigger(trigger, token), SHOWN_ONCE


@bp.route("/triggers/<int:trigger_id>", methods=["DELETE"])
@require_scope(bp, "admin")
@bp.response(204)
def delete_trigger(trigger_id):
    """Delete a token URL."""
    trigger_service.delete_webhook_trigger(trigger_id)


@bp.route("/workflows/<int:workflow_id>/app-event-triggers", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, AppEventTriggerOut(many=True))
def list_app_event_triggers(workflow_id):
    """A workflow's App Event triggers."""
    return [trigger_service.describe_app_event_trigger(t)
            for t in trigger_service.list_app_event_triggers(workflow_id)]


@bp.route("/workflows/<int:workflow_id>/app-event-triggers", methods=["POST"])
@require_scope(bp, "admin")
@bp.arguments(AppEventTriggerIn)
@bp.response(201, AppEventTriggerOut)
def create_app_event_trigger(body, workflow_id):
    """Start runs of this workflow from an App's messages that match the filter."""
    return trigger_service.describe_app_event_trigger(trigger_service.create_app_event_trigger(
        workflow_id, body["app_id"], body["filter"]))


@bp.route("/app-event-triggers/<int:trigger_id>", methods=["DELETE"])
@require_scope(bp, "admin")
@bp.response(204)
def delete_app_event_trigger(trigger_id):
    """Delete an App Event trigger."""
    trigger_service.delete_app_event_trigger(trigger_id)


@bp.route("/runs", methods=["GET"])
@require_scope(bp, "admin")
@bp.arguments(RunArgs, location="query")
@bp.response(200, page_of(RunOut, "RunPage"))
def list_runs(args):
    """Runs, newest first, optionally of one workflow."""
    return page(workflow_service.runs_query(args["workflow_id"]), WorkflowRun.id, args,
                workflow_service.describe_run)
