"""Workflows and their runs: starting a run, reading it, and the executor's work queue."""
from __future__ import annotations

from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import ApiToken
from orqo.models import Workflow
from orqo.models import WorkflowRun
from orqo.models import as_utc
from orqo.models import utcnow
from orqo.services.leasing import lease_rows
from orqo.services.leasing import queued_or_lease_expired

FINAL_STATUSES = ("succeeded", "failed")


def create_workflow(name: str, enabled: bool = True) -> Workflow:
    """Save a workflow; 422 without a name."""
    if not name or not name.strip() or len(name) > 200:
        raise ApiError(422, "validation_error", "The workflow is not valid.",
                       {"name": ["A name of 1 to 200 characters is required."]})
    workflow = Workflow(name=name.strip(), enabled=enabled)
    db.session.add(workflow)
    db.session.commit()
    return workflow


def set_workflow_enabled(workflow_id: int, enabled: bool) -> Workflow:
    """Enable or disable a workflow; 404 when unknown."""
    workflow = find_workflow(workflow_id)
    workflow.enabled = enabled
    db.session.commit()
    return workflow


def find_workflow(workflow_id: int) -> Workflow:
    """The workflow with this id; 404 when there is none."""
    workflow = db.session.get(Workflow, workflow_id)
    if workflow is None:
        raise ApiError(404, "not_found", f"No workflow has the id {workflow_id}.")
    return workflow


def list_workflows() -> list[Workflow]:
    """Every workflow, oldest first."""
    return list(db.session.scalars(select(Workflow).order_by(Workflow.id)))


def start_run(workflow: Workflow | None, trigger_kind: str, trigger_ref: str, run_input,
              meta: dict | None = None) -> WorkflowRun:
    """Queue a run for the executor, in the current transaction (the caller commits).

    422 when the workflow is gone or disabled: the run could not start.
    """
    if workflow is None or not workflow.enabled:
        state = "gone" if workflow is None else "disabled"
        raise ApiError(422, "run_not_started", f"The run could not start: the workflow is {state}.")
    run = WorkflowRun(workflow_id=workflow.id, trigger_kind=trigger_kind, trigger_ref=trigger_ref,
                      input=run_input, meta=meta or {})
    db.session.add(run)
    db.session.flush()
    return run


def find_run(run_id: int) -> WorkflowRun:
    """The run with this id; 404 when there is none."""
    run = db.session.get(WorkflowRun, run_id)
    if run is None:
        raise ApiError(404, "not_found", f"No workflow run has the id {run_id}.")
    return run


#: The scopes that read every run; a token with none of them (``trigger`` only) reads only
#: the runs it started itself.
SEES_EVERY_RUN = frozenset({"admin", "agent"})
#: How ``POST /api/v1/trigger`` records who started a run (``trigger_ref`` is the token's id).
API_TRIGGER = "api"


def find_run_for_token(run_id: int, token: ApiToken) -> WorkflowRun:
    """The run with this id, as ``token`` may read it.

    ``admin`` and ``agent`` tokens read every run. A ``trigger`` token (the kind handed to a
    CRM) reads only the runs it started through ``POST /api/v1/trigger``: any other run (one
    started by a Contact's message, a token URL or another token) is the same 404 as an
    unknown id, so that a trigger token cannot find out which ids exist.
    """
    run = db.session.get(WorkflowRun, run_id)
    if run is not None and (SEES_EVERY_RUN & set(token.scope_list) or (
            run.trigger_kind == API_TRIGGER and run.trigger_ref == str(token.id))):
        return run
    raise ApiError(404, "not_found", f"No workflow run has the id {run_id}.")


def runs_query(workflow_id: int | None = None):
    """The runs, optionally of one workflow, as a query to page through (newest first by id)."""
    query = select(WorkflowRun)
    if workflow_id is not None:
        query = query.where(WorkflowRun.workflow_id == workflow_id)
    return query


def list_runs(workflow_id: int | None = None, limit: int = 50) -> list[WorkflowRun]:
    """Runs, newest first, optionally of one workflow."""
    return list(db.session.scalars(
        runs_query(workflow_id).order_by(WorkflowRun.id.desc()).limit(limit)))


def claim_runs(claimant: str, limit: int, lease_seconds: float) -> dict:
    """Lease up to ``limit`` queued runs to an executor (the same rules as Doorkeeper's queue)."""
    ids, token, lease_until = lease_rows(
        WorkflowRun, ready=queued_or_lease_expired(WorkflowRun, utcnow(), ("claimed", "started")),
        order_by=[WorkflowRun.id], limit=limit, lease_seconds=lease_seconds,
        values={"status": "claimed", "claimed_by": claimant},
    )
    runs = db.session.scalars(select(WorkflowRun).where(WorkflowRun.id.in_(ids))
                              .order_by(WorkflowRun.id)).all() if ids else []
    described = [describe_run(run) for run in runs]
    db.session.commit()
    return {"claim_token": token, "lease_until": lease_until.isoformat(), "runs": described}


def report_run(run_id: int, claim_token: str, status: str, output=None, error: str = "",
               lease_seconds: float = 300.0) -> WorkflowRun:
    """Record an executor's progress on a run it holds.

    ``started`` renews the lease; ``succeeded`` and ``failed`` end the run. 409 when the run is
    not held under ``claim_token`` (its lease ran out and another executor took it) or ended.
    """
    from datetime import timedelta

    now = utcnow()
    values = {"status": status}
    if status == "started":
        values.update(started_at=now, lease_until=now + timedelta(seconds=lease_seconds))
    else:
        values.update(finished_at=now, lease_until=None, output=output, error=error or "")
    changed = db.session.execute(
        update(WorkflowRun.__table__)
        .where(WorkflowRun.id == run_id, WorkflowRun.claim_token == claim_token,
               WorkflowRun.status.in_(["claimed", "started"]))
        .values(**values).returning(WorkflowRun.id)
    ).first()
    db.session.commit()
    run = find_run(run_id)
    if changed is None:
        raise ApiError(409, "conflict", f"Run {run_id} is {run.status} and not held by this claim.")
    return run


def describe_run(run: WorkflowRun) -> dict:
    """A run as callers and executors see it."""
    def iso(value):
        return as_utc(value).isoformat() if value else None

    return {
        "id": run.id, "workflow_id": run.workflow_id, "trigger_kind": run.trigger_kind,
        "trigger_ref": run.trigger_ref, "input": run.input, "metadata": run.meta or {},
        "status": run.status, "output": run.output, "error": run.error,
        "created_at": iso(run.created_at), "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
    }


def describe_workflow(workflow: Workflow) -> dict:
    """A workflow."""
    return {"id": workflow.id, "name": workflow.name, "enabled": workflow.enabled,
            "created_at": as_utc(workflow.created_at).isoformat()}


def update_workflow(workflow_id: int, changes: dict) -> Workflow:
    """Rename, enable or disable a workflow."""
    workflow = find_workflow(workflow_id)
    if "name" in changes:
        workflow.name = changes["name"].strip() or workflow.name
    if "enabled" in changes:
        workflow.enabled = changes["enabled"]
    db.session.commit()
    return workflow


def runs_in_progress(workflow_id: int) -> int:
    """How many of a workflow's runs have not ended (queued, claimed or started): deleting the
    workflow deletes them, and their executor's reports are then refused."""
    return db.session.scalar(select(func.count()).select_from(WorkflowRun).where(
        WorkflowRun.workflow_id == workflow_id,
        WorkflowRun.status.not_in(FINAL_STATUSES))) or 0


def delete_workflow(workflow_id: int, force: bool = False) -> None:
    """Delete a workflow with its triggers and runs.

    :param force: also when runs of it are in progress (:func:`runs_in_progress`); without it
        such a deletion is refused (409 ``runs_in_progress``), because the runs would be deleted
        under their executor, whose reports are then refused.
    """
    workflow = find_workflow(workflow_id)
    in_progress = runs_in_progress(workflow_id)
    if in_progress and not force:
        raise ApiError(409, "runs_in_progress",
                       f"Workflow {workflow_id} has {in_progress} run(s) in progress (queued, "
                       "claimed or started); deleting it deletes them and their executor's "
                       "reports will be refused. Delete with force to do it anyway.",
                       {"runs_in_progress": in_progress})
    db.session.delete(workflow)
    db.session.commit()
