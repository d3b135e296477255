"""``orqo events``: the ledger."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from orqo.cli.output import echo_json
from orqo.services import ledger


@click.group("events")
def events_group():
    """Read the ledger of deliveries."""


@events_group.command("list")
@click.option("--app", "app_id", default=None, help="Only this App's deliveries.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def events_list_command(app_id, limit, as_json):
    """List deliveries, newest first, with each message's outcome."""
    described = [ledger.describe_delivery(d) for d in ledger.list_deliveries(app_id, limit)]
    if as_json:
        echo_json(described)
        return
    for entry in described:
        click.echo(f"#{entry['id']} {entry['received_at']} app={entry['app_id']} "
                   f"{entry['outcome']} {entry['status_code']} {entry['reason']}".rstrip())
        for message in entry["messages"]:
            click.echo(f"    {message['outcome']:<15} {message['handler'] or '-':<11} "
                       f"{message['dedupe_key']} {message['reason']}".rstrip())
