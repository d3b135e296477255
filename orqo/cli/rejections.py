"""``orqo rejections``: the counts of refused deliveries."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from orqo.cli.output import echo_json
from orqo.services import rejections


@click.group("rejections")
def rejections_group():
    """Read the counts of refused deliveries (bad signatures, unsigned pings)."""


@rejections_group.command("list")
@click.option("--app", "app_id", default=None, help="Only this App's counts.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 200),
              help="How many rows to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def rejections_list_command(app_id, limit, as_json):
    """List the counts, newest window first: App, outcome, source, count, last reason."""
    rows = rejections.list_rejections(app_id, None, limit)
    if as_json:
        echo_json(rows)
        return
    for row in rows:
        click.echo(f"{row['window_start']} app={row['app_id']} {row['outcome']:<18} "
                   f"{row['source']:<39} {row['count']:>7}  {row['last_reason']}".rstrip())
