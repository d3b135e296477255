"""``orqo worker`` and ``orqo pushes``: pushing to the agent runtime, and sending the
messages agents queue."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from orqo.cli.output import echo_json
from orqo.cli.output import echo_table
from orqo.cli.output import json_option
from orqo.cli.output import limit_option
from orqo.services import push as push_service


@click.command("worker")
@click.option("--once", is_flag=True,
              help="Exit when no push or message is due instead of waiting.")
@click.option("--batch", default=20, show_default=True, type=click.IntRange(1, 500))
@with_appcontext
def worker_command(once, batch):
    """Send queued messages through the platforms, the push outbox to AGENT_PUSH_URL (when
    set), and prune old rows, until stopped (SIGTERM finishes the batch)."""
    from orqo import worker

    worker.run(current_app._get_current_object(), once=once, batch=batch)


@click.group("pushes")
def pushes_group():
    """Inspect and retry pushes to the agent runtime."""


@pushes_group.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), default=None,
              help="Only pushes in this state.")
@limit_option()
@json_option("Print JSON, with every attempt, instead of text.")
@with_appcontext
def pushes_list_command(status, limit, as_json):
    """List pushes, newest first (every attempt with --json)."""
    pushes = [push_service.describe_push(p) for p in push_service.list_pushes(status, limit)]
    if as_json:
        echo_json(pushes)
        return
    echo_table(("id", "message", "status", "attempts", "next attempt", "last error"),
               [(p["id"], p["message_id"], p["status"], p["attempts"],
                 p["next_attempt_at"], p["last_error"] or None) for p in pushes])


@pushes_group.command("retry")
@click.argument("push_id", type=int)
@with_appcontext
def pushes_retry_command(push_id):
    """Send a pending or dead push again, with a fresh attempt budget."""
    echo_json(push_service.describe_push(push_service.retry(push_id)))
