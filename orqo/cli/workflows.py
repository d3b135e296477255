"""``orqo workflows``, ``orqo triggers`` and ``orqo runs``."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from orqo.cli.output import echo_json
from orqo.cli.output import echo_table
from orqo.cli.output import echo_warnings
from orqo.cli.output import json_option
from orqo.cli.output import limit_option
from orqo.errors import ApiError
from orqo.services import triggers as trigger_service
from orqo.services import workflows as workflow_service


@click.group("workflows")
def workflows_group():
    """Manage workflows."""


@workflows_group.command("create")
@click.option("--name", required=True, help="The workflow's name.")
@click.option("--disabled", is_flag=True, help="Create it disabled.")
@with_appcontext
def workflows_create_command(name, disabled):
    """Create a workflow and print it as JSON."""
    echo_json(workflow_service.describe_workflow(
        workflow_service.create_workflow(name, enabled=not disabled)))


@workflows_group.command("list")
@json_option()
@with_appcontext
def workflows_list_command(as_json):
    """List workflows, oldest first."""
    workflows = [workflow_service.describe_workflow(w) for w in workflow_service.list_workflows()]
    if as_json:
        echo_json(workflows)
        return
    echo_table(("id", "enabled", "created", "name"),
               [(w["id"], _on(w["enabled"]), w["created_at"], w["name"]) for w in workflows])


@workflows_group.command("show")
@click.argument("workflow_id", type=int)
@with_appcontext
def workflows_show_command(workflow_id):
    """Print one workflow as JSON."""
    echo_json(workflow_service.describe_workflow(workflow_service.find_workflow(workflow_id)))


@workflows_group.command("update")
@click.argument("workflow_id", type=int)
@click.option("--name", required=True, help="The workflow's new name.")
@with_appcontext
def workflows_update_command(workflow_id, name):
    """Rename a workflow and print it (enable and disable change whether it runs)."""
    echo_json(workflow_service.describe_workflow(
        workflow_service.update_workflow(workflow_id, {"name": name})))


@workflows_group.command("delete")
@click.argument("workflow_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask, even when runs are in progress.")
@with_appcontext
def workflows_delete_command(workflow_id, yes):
    """Delete a workflow with its triggers and runs. Asks first when a run of it is in progress
    (queued, claimed or started), unless --yes."""
    try:
        workflow_service.delete_workflow(workflow_id, force=yes)
    except ApiError as exc:
        if exc.code != "runs_in_progress":
            raise
        in_progress = exc.details["runs_in_progress"]
        echo_warnings([f"workflow {workflow_id} has {in_progress} run(s) in progress; deleting "
                       "it deletes them, and their executor's reports will be refused."])
        click.confirm(f"Delete workflow {workflow_id} anyway?", abort=True, err=True)
        workflow_service.delete_workflow(workflow_id, force=True)
    click.echo(f"Deleted workflow {workflow_id}.")


def _set_workflow_enabled(workflow_id, enabled):
    echo_json(workflow_service.describe_workflow(
        workflow_service.set_workflow_enabled(workflow_id, enabled)))


@workflows_group.command("enable")
@click.argument("workflow_id", type=int)
@with_appcontext
def workflows_enable_command(workflow_id):
    """Enable a workflow."""
    _set_workflow_enabled(workflow_id, True)


@workflows_group.command("disable")
@click.argument("workflow_id", type=int)
@with_appcontext
def workflows_disable_command(workflow_id):
    """Disable a workflow: its triggers answer 422 (the run could not start)."""
    _set_workflow_enabled(workflow_id, False)


@click.group("triggers")
def triggers_group():
    """Manage webhook triggers (token URLs) and App Event triggers."""


@triggers_group.command("create")
@click.argument("workflow_id", type=int)
@with_appcontext
def triggers_create_command(workflow_id):
    """Create a token URL for a workflow; its url is printed this once only."""
    trigger, token = trigger_service.create_webhook_trigger(workflow_id)
    echo_json(trigger_service.describe_webhook_trigger(trigger, token))


def _set_enabled(trigger_id, enabled):
    echo_json(trigger_service.describe_webhook_trigger(
        trigger_service.set_trigger_enabled(trigger_id, enabled)))


@triggers_group.command("enable")
@click.argument("trigger_id", type=int)
@with_appcontext
def triggers_enable_command(trigger_id):
    """Enable a webhook trigger."""
    _set_enabled(trigger_id, True)


@triggers_group.command("disable")
@click.argument("trigger_id", type=int)
@with_appcontext
def triggers_disable_command(trigger_id):
    """Disable a webhook trigger: its URL answers 409."""
    _set_enabled(trigger_id, False)


@triggers_group.command("rotate")
@click.argument("trigger_id", type=int)
@click.option("--keep-old-for", default=86400.0, show_default=True, type=float,
              help="Seconds during which the old URL keeps working.")
@with_appcontext
def triggers_rotate_command(trigger_id, keep_old_for):
    """Issue a new token URL; the old one works until the grace period ends."""
    trigger, token = trigger_service.rotate_trigger(trigger_id, keep_old_for)
    echo_json(trigger_service.describe_webhook_trigger(trigger, token))


@triggers_group.command("create-app-event")
@click.argument("workflow_id", type=int)
@click.option("--app", "app_id", required=True, help="The App whose messages start runs.")
@click.option("--filter", "event_filter", default="{}", show_default=True,
              help='JSON: {"platform", "sender_id", "text_pattern"}, each optional.')
@with_appcontext
def triggers_create_app_event_command(workflow_id, app_id, event_filter):
    """Create an App Event trigger (used when the App's route to Doorkeeper is off)."""
    try:
        parsed = json.loads(event_filter)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--filter") from None
    if not isinstance(parsed, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--filter")
    trigger = trigger_service.create_app_event_trigger(workflow_id, app_id, parsed)
    described = trigger_service.describe_app_event_trigger(trigger)
    echo_json(described)
    echo_warnings(described["warnings"])


@triggers_group.command("list")
@click.argument("workflow_id", type=int)
@json_option()
@with_appcontext
def triggers_list_command(workflow_id, as_json):
    """List a workflow's token URLs (never their tokens) and App Event triggers."""
    webhook = [trigger_service.describe_webhook_trigger(t)
               for t in trigger_service.list_webhook_triggers(workflow_id)]
    app_event = [trigger_service.describe_app_event_trigger(t)
                 for t in trigger_service.list_app_event_triggers(workflow_id)]
    if as_json:
        echo_json({"triggers": webhook, "app_event_triggers": app_event})
        return
    rows = [("token_url", t["id"], _on(t["enabled"]), "-",
             f"last used {t['last_used_at'] or 'never'}") for t in webhook]
    rows += [("app_event", t["id"], _on(t["enabled"]), t["app_id"],
              json.dumps({k: v for k, v in (t["filter"] or {}).items() if v is not None},
                         sort_keys=True)) for t in app_event]
    echo_table(("kind", "id", "enabled", "app", "details"), rows)
    echo_warnings([w for t in app_event for w in t["warnings"]])


def _on(enabled):
    return "yes" if enabled else "no"


@triggers_group.command("delete")
@click.argument("trigger_id", type=int)
@with_appcontext
def triggers_delete_command(trigger_id):
    """Delete a token URL: it answers 404 from now on."""
    trigger_service.delete_webhook_trigger(trigger_id)
    click.echo(f"Deleted token URL trigger {trigger_id}.")


@triggers_group.command("delete-app-event")
@click.argument("trigger_id", type=int)
@with_appcontext
def triggers_delete_app_event_command(trigger_id):
    """Delete an App Event trigger."""
    trigger_service.delete_app_event_trigger(trigger_id)
    click.echo(f"Deleted App Event trigger {trigger_id}.")


@click.group("runs")
def runs_group():
    """Inspect workflow runs."""


@runs_group.command("list")
@click.option("--workflow", "workflow_id", type=int, default=None,
              help="Only the runs of this workflow (its id).")
@limit_option()
@json_option()
@with_appcontext
def runs_list_command(workflow_id, limit, as_json):
    """List runs, newest first (their input and output with --json or `GET /api/v1/runs/ID`)."""
    runs = [workflow_service.describe_run(r) for r in workflow_service.list_runs(workflow_id, limit)]
    if as_json:
        echo_json(runs)
        return
    echo_table(("id", "workflow", "status", "created", "finished", "trigger", "error"),
               [(r["id"], r["workflow_id"], r["status"], r["created_at"], r["finished_at"],
                 f"{r['trigger_kind']}:{r['trigger_ref']}" if r["trigger_ref"]
                 else r["trigger_kind"], r["error"] or None) for r in runs])


@runs_group.command("show")
@click.argument("run_id", type=int)
@with_appcontext
def runs_show_command(run_id):
    """Print one run as JSON: its input, metadata, status, output and error (as
    GET /api/v1/runs/ID)."""
    echo_json(workflow_service.describe_run(workflow_service.find_run(run_id)))
