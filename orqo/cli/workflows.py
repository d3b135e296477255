"""``orqo workflows``, ``orqo triggers`` and ``orqo runs``."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from orqo.cli.output import echo_json
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
@with_appcontext
def workflows_list_command():
    """List workflows as JSON."""
    echo_json([workflow_service.describe_workflow(w) for w in workflow_service.list_workflows()])


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
    """Create a token URL for a workflow; its path is printed this once only."""
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
    echo_json(trigger_service.describe_app_event_trigger(trigger))


@click.group("runs")
def runs_group():
    """Inspect workflow runs."""


@runs_group.command("list")
@click.option("--workflow", "workflow_id", type=int, default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@with_appcontext
def runs_list_command(workflow_id, limit):
    """List runs, newest first, as JSON."""
    echo_json([workflow_service.describe_run(r)
               for r in workflow_service.list_runs(workflow_id, limit)])
