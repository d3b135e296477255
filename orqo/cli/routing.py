"""``orqo waitboxes`` and ``orqo conversations``: what routing holds for agents, read and
cancelled by an operator (the agent side of the API is where agents open and answer them)."""
from __future__ import annotations

from datetime import datetime
from datetime import timezone

import click
from flask.cli import with_appcontext

from orqo.api.pagination import page
from orqo.cli.output import cursor_option
from orqo.cli.output import echo_json
from orqo.cli.output import echo_more
from orqo.cli.output import echo_table
from orqo.cli.output import json_option
from orqo.cli.output import limit_option
from orqo.models import Waitbox
from orqo.services import conversations as conversation_service
from orqo.services import waitboxes as waitbox_service

@click.group("waitboxes")
def waitboxes_group():
    """Read and cancel waitboxes (agents waiting for a person's answer)."""


@waitboxes_group.command("list")
@click.option("--app", "app_id", default=None, help="Only the waitboxes of this App.")
@click.option("--contact", "contact_id", type=int, default=None,
              help="Only the waitboxes for this Contact (its id).")
@click.option("--status", type=click.Choice(waitbox_service.WAITBOX_STATUSES), default=None,
              help="Only the waitboxes in this state.")
@limit_option()
@cursor_option()
@json_option()
@with_appcontext
def waitboxes_list_command(app_id, contact_id, status, limit, cursor, as_json):
    """List waitboxes, newest first, one page at a time (as GET /api/v1/waitboxes)."""
    result = page(waitbox_service.waitboxes_query(app_id, contact_id, status), Waitbox.id,
                  {"limit": limit, "cursor": cursor}, waitbox_service.describe_waitbox)
    if as_json:
        echo_json(result)
        return
    echo_table(("id", "app", "contact", "status", "expires", "thread", "message", "reference"),
               [(w["id"], w["app_id"], w["contact_id"], w["status"], w["expires_at"],
                 w["thread_id"], w["message_id"], w["reference"]) for w in result["items"]])
    echo_more(result)


@waitboxes_group.command("show")
@click.argument("waitbox_id", type=int)
@with_appcontext
def waitboxes_show_command(waitbox_id):
    """Print one waitbox as JSON, with the message that answered it."""
    echo_json(waitbox_service.describe_waitbox(waitbox_service.find_waitbox(waitbox_id)))


@waitboxes_group.command("cancel")
@click.argument("waitbox_id", type=int)
@with_appcontext
def waitboxes_cancel_command(waitbox_id):
    """Cancel a waiting waitbox: the Contact's next message goes to the next waitbox or to
    Doorkeeper (as DELETE /api/v1/waitboxes/ID)."""
    echo_json(waitbox_service.describe_waitbox(waitbox_service.cancel_waitbox(waitbox_id)))


def _when(sent_at: float | None) -> str | None:
    # The platform's Unix time, as ISO 8601 UTC to the second (a message without one: None).
    if sent_at is None:
        return None
    return datetime.fromtimestamp(sent_at, timezone.utc).isoformat(timespec="seconds")


@click.group("conversations")
def conversations_group():
    """Read Doorkeeper's conversations."""


@conversations_group.command("show")
@click.argument("conversation_id", type=int)
@limit_option()
@cursor_option()
@json_option()
@with_appcontext
def conversations_show_command(conversation_id, limit, cursor, as_json):
    """Print a conversation's messages both ways, oldest first, one page at a time (as
    GET /api/v1/conversations/ID)."""
    result = conversation_service.read_conversation(conversation_id,
                                                    {"limit": limit, "cursor": cursor})
    if as_json:
        echo_json(result)
        return
    click.echo(f"conversation {result['id']}: App {result['app_id']}, Contact "
               f"{result['contact_id']}, chat {result['chat_id']}"
               + (f", thread {result['thread_id']}" if result["thread_id"] else ""))
    echo_table(("entry", "session", "message", "way", "sent", "status", "text"), [
        (e["entry_id"], e["session_id"], e["message"]["id"], e["message"]["direction"],
         _when(e["message"]["sent_at"]), e["status"], e["message"]["text"])
        for e in result["messages"]])
    echo_more(result)
