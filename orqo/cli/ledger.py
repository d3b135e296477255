"""``orqo deliveries``: the ledger of deliveries (inbound requests) and their messages."""
from __future__ import annotations

from datetime import datetime
from datetime import timezone

import click
from flask.cli import with_appcontext

from orqo.cli.output import echo_json
from orqo.models import DELIVERY_OUTCOMES
from orqo.services import ledger


class Timestamp(click.ParamType):
    """An ISO 8601 date or time; one without a UTC offset is taken as UTC."""

    name = "TIMESTAMP"

    def convert(self, value, param, ctx):
        """``value`` as an aware datetime, or a usage error naming the format."""
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time such as 2026-01-31T09:00:00+00:00.",
                      param, ctx)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@click.group("deliveries")
def deliveries_group():
    """Read the ledger: deliveries (inbound requests) and their messages."""


@deliveries_group.command("list")
@click.option("--app", "app_id", default=None, help="Only this App's deliveries.")
@click.option("--outcome", type=click.Choice(DELIVERY_OUTCOMES), default=None,
              help="Only deliveries with this outcome.")
@click.option("--since", type=Timestamp(), default=None,
              help="Only deliveries received at or after this time (UTC unless given).")
@click.option("--until", type=Timestamp(), default=None,
              help="Only deliveries received before this time (UTC unless given).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000),
              help="How many deliveries at most.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def deliveries_list_command(app_id, outcome, since, until, limit, as_json):
    """List deliveries, newest first, with each message's id and outcome (`orqo messages
    replay MESSAGE_ID` takes that id)."""
    found = ledger.list_deliveries(app_id, limit, outcome=outcome, since=since, until=until)
    described = [ledger.describe_delivery(d) for d in found]
    if as_json:
        echo_json(described)
        return
    for entry in described:
        click.echo(f"delivery #{entry['id']} {entry['received_at']} app={entry['app_id']} "
                   f"{entry['outcome']} {entry['status_code']} {entry['reason']}".rstrip())
        for message in entry["messages"]:
            click.echo(f"    message #{message['id']:<6} {message['outcome']:<15} "
                       f"{message['handler'] or '-':<11} {message['dedupe_key']} "
                       f"{message['reason']}".rstrip())


@deliveries_group.command("show")
@click.argument("delivery_id", type=int)
@with_appcontext
def deliveries_show_command(delivery_id):
    """One delivery with its messages, as JSON."""
    echo_json(ledger.describe_delivery(ledger.find_delivery(delivery_id)))
