"""``orqo messages``: send a message to a Contact through an App's platform, read or list
messages, replay a stored inbound one and retry a failed outbound one (the same service
functions as ``/api/v1/messages``)."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from orqo.api.pagination import page
from orqo.cli.output import cursor_option
from orqo.cli.output import echo_json
from orqo.cli.output import echo_more
from orqo.cli.output import echo_table
from orqo.cli.output import json_option
from orqo.cli.output import limit_option
from orqo.models import DIRECTIONS
from orqo.extensions import db
from orqo.models import MessageRecord
from orqo.services import ledger
from orqo.services import outbound
from orqo.services import sending


@click.group("messages")
def messages_group():
    """Send messages through an App's platform; read or list messages; replay an inbound one;
    retry a failed outbound one."""


@messages_group.command("send")
@click.option("--app", "app_id", required=True, help="The App whose platform sends it.")
@click.option("--contact", "contact_id", required=True, type=int, help="The Contact it goes to.")
@click.option("--text", required=True, help="What to send.")
@click.option("--in-reply-to", type=int, default=None,
              help="The id of a received message: reply in its thread or to it.")
@click.option("--await-reply", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="SECONDS", help="Open a waitbox bound to the message for this long.")
@click.option("--reference", default="", help="The waitbox's reference (with --await-reply).")
@with_appcontext
def send_command(app_id, contact_id, text, in_reply_to, await_reply, reference):
    """Queue a message; `orqo worker` sends it. Prints the message as JSON."""
    message = outbound.queue_message(
        app_id, contact_id, text, in_reply_to=in_reply_to,
        await_reply=None if await_reply is None else {"expires_in": await_reply,
                                                      "reference": reference})
    db.session.commit()
    echo_json(outbound.describe_message(message))


@messages_group.command("show")
@click.argument("message_id", type=int)
@with_appcontext
def show_command(message_id):
    """A message, inbound or outbound, and what became of it, as JSON."""
    echo_json(outbound.describe_message(outbound.find_message(message_id)))


@messages_group.command("replay")
@click.argument("message_id", type=int)
@with_appcontext
def replay_command(message_id):
    """Route a stored unknown_sender or throttled inbound message again (after registering its
    sender, or once a flood is over), as a delivery of its own; prints the replay as JSON."""
    delivery, record = ledger.replay(message_id)
    echo_json(ledger.describe_replay(delivery, record, message_id))


@messages_group.command("list")
@click.option("--app", "app_id", default=None, help="Only messages of this App.")
@click.option("--direction", type=click.Choice(DIRECTIONS), default=None,
              help="Only received (inbound) or sent (outbound) messages.")
@click.option("--status", type=click.Choice(outbound.MESSAGE_STATUSES), default=None,
              help="received (inbound), or an outbound message's queued, sent or failed.")
@limit_option()
@cursor_option()
@json_option()
@with_appcontext
def list_command(app_id, direction, status, limit, cursor, as_json):
    """List messages, newest first, one page at a time (as GET /api/v1/messages)."""
    result = page(outbound.messages_query(app_id, status, direction), MessageRecord.id,
                  {"limit": limit, "cursor": cursor}, outbound.describe_message_row)
    if as_json:
        echo_json(result)
        return
    echo_table(("id", "app", "direction", "status", "attempts", "text"), [
        (m["id"], m["app_id"], m["direction"], m["status"], m.get("attempts"),
         " ".join((m["text"] or "").split())[:60]) for m in result["items"]])
    echo_more(result)


@messages_group.command("retry")
@click.argument("message_id", type=int)
@with_appcontext
def retry_command(message_id):
    """Queue a failed outbound message again with a fresh attempt budget (`orqo worker` sends
    it); prints the message as JSON."""
    sending.retry(message_id)
    echo_json(outbound.describe_message(outbound.find_message(message_id)))
