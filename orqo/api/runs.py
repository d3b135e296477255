"""Workflow runs: reading one, and the executor's work queue (claim with a lease, report)."""
from __future__ import annotations

from flask import g

from orqo.api import Blueprint
from orqo.api.auth import require_scope
from orqo.api.schemas import ClaimIn
from orqo.api.schemas import RunClaimOut
from orqo.api.schemas import RunOut
from orqo.api.schemas import RunProgressIn
from orqo.services import workflows

bp = Blueprint("runs", __name__, url_prefix="/api/v1/runs",
               description="Workflow runs and the executor's work queue.")


@bp.route("/<int:run_id>", methods=["GET"])
@require_scope(bp, "trigger", "agent")
@bp.response(200, RunOut)
def get_run(run_id):
    """A run: how it was triggered, its input, status and times. A ``trigger`` token reads
    only the runs it started (any other id is 404)."""
    return workflows.describe_run(workflows.find_run_for_token(run_id, g.api_token))


@bp.route("/claims", methods=["POST"])
@require_scope(bp, "agent")
@bp.arguments(ClaimIn)
@bp.response(200, RunClaimOut)
def claim_runs(body):
    """Claim up to ``limit`` queued runs for ``lease_seconds``."""
    return workflows.claim_runs(body["claimant"], body["limit"], body["lease_seconds"])


@bp.route("/<int:run_id>/progress", methods=["POST"])
@require_scope(bp, "agent")
@bp.arguments(RunProgressIn)
@bp.response(200, RunOut)
def report_progress(body, run_id):
    """Report ``started`` (renews the lease), ``succeeded`` or ``failed`` on a claimed run."""
    run = workflows.report_run(run_id, body["claim_token"], body["status"], body["output"],
                               body["error"], body["lease_seconds"])
    return workflows.describe_run(run)
