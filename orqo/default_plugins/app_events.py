"""App Event triggers: for an App whose "route to Doorkeeper" setting is off, each message no
waitbox took starts a run of every workflow whose App Event trigger filter matches; with no
match it is recorded as ``no_route``. Apps with Doorkeeper on are left to Doorkeeper."""
from __future__ import annotations

from orqo import hookimpl
from orqo.extensions import db
from orqo.handlers import Route
from orqo.models import App
from orqo.models import Workflow
from orqo.services.conversations import describe_routed_message
from orqo.services.triggers import matching_app_event_triggers
from orqo.services.workflows import start_run


@hookimpl
def route_message(app, message, record, contact_id):
    """Start the matching workflows' runs, or record ``no_route``; None for Doorkeeper Apps."""
    app_record = db.session.get(App, record.app_id)  # already loaded by the pipeline
    if app_record.route_to_doorkeeper:
        return None
    run_ids = []
    for trigger in matching_app_event_triggers(record.app_id, message):
        workflow = db.session.get(Workflow, trigger.workflow_id)
        if workflow is not None and workflow.enabled:
            run = start_run(workflow, "app_event", str(trigger.id), describe_routed_message(record))
            run_ids.append(run.id)
    if not run_ids:
        return Route(handler="app_event", outcome="no_route")
    return Route(handler="app_event", ref=",".join(map(str, run_ids)),
                 details={"workflow_run_ids": run_ids})
