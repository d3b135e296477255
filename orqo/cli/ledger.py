"""``orqo deliveries``: the ledger of deliveries (inbound requests) and their messages."""
from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone
from time import monotonic
from time import sleep

import click
from flask.cli import with_appcontext

from orqo.cli.output import api_limit_max
from orqo.cli.output import echo_json
from orqo.cli.output import json_option
from orqo.cli.output import limit_option
from orqo.extensions import db
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
@limit_option()
@json_option()
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
        echo_delivery(entry)


def echo_delivery(entry: dict) -> None:
    """One described delivery as ``deliveries list`` prints it: a line, then one indented line
    per message."""
    click.echo(f"delivery #{entry['id']} {entry['received_at']} app={entry['app_id']} "
               f"{entry['outcome']} {entry['status_code']} {entry['reason']}".rstrip())
    for message in entry["messages"]:
        click.echo(f"    message #{message['id']:<6} {message['outcome']:<15} "
                   f"{message['handler'] or '-':<11} {message['dedupe_key']} "
                   f"{message['reason']}".rstrip())


#: How long ``deliveries tail`` asks again for an id it passed over: longer than a delivery's
#: transaction can last (gunicorn's timeout, 30 s), so that one committed late is printed too.
MISSING_SECONDS = 60.0
#: At most this many ids passed over are asked for again (a jump in ids is not a backlog).
MAX_MISSING = 1000


@deliveries_group.command("tail")
@click.option("--app", "app_id", default=None, help="Only this App's deliveries.")
@click.option("--outcome", type=click.Choice(DELIVERY_OUTCOMES), default=None,
              help="Only deliveries with this outcome.")
@click.option("-n", "--last", default=10, show_default=True,
              type=click.IntRange(0, api_limit_max()),
              help="Print the newest this many deliveries first (0: only new ones).")
@click.option("--interval", default=1.0, show_default=True,
              type=click.FloatRange(0, 3600, min_open=True),
              help="Seconds between two looks for new deliveries.")
@click.option("--count", default=None, type=click.IntRange(1),
              help="Stop after this many deliveries (for scripts and tests; default: run "
                   "until Ctrl-C).")
@click.option("--json", "as_json", is_flag=True,
              help="Print each delivery as one JSON object per line.")
@with_appcontext
def deliveries_tail_command(app_id, outcome, last, interval, count, as_json):
    """Print the newest deliveries, oldest of them first, then each new one as it is
    recorded, until Ctrl-C (or --count). Lines are those of `deliveries list`."""
    printed, first = [0], set()  # how many were printed; the ids printed before following

    def show(found: list) -> None:
        """Print ``found`` (oldest first), stopping at --count."""
        for delivery in found[:None if count is None else count - printed[0]]:
            entry = ledger.describe_delivery(delivery)
            if as_json:
                click.echo(json.dumps(entry, sort_keys=True))
            else:
                echo_delivery(entry)
            printed[0] += 1

    try:
        # Followed by id from the newest one there is; an id passed over (its transaction
        # had not committed yet, or rolled back) is asked for again for MISSING_SECONDS.
        after = ledger.newest_delivery_id()
        missing: dict[int, float] = {}
        newest = ledger.list_deliveries(app_id, last, outcome=outcome)[::-1] if last else []
        first.update(delivery.id for delivery in newest)
        show(newest)
        while count is None or printed[0] < count:
            db.session.remove()  # ends the read transaction: the next look sees new rows
            sleep(interval)
            ids = ledger.arrived(after, missing)
            now = monotonic()
            top = max(ids, default=after)
            for passed in set(range(max(after, top - MAX_MISSING) + 1, top + 1)) - set(ids):
                missing[passed] = now
            for found in ids:
                missing.pop(found, None)
            missing = {i: t for i, t in missing.items() if now - t < MISSING_SECONDS}
            after = top
            # One recorded after `after` was read may be in the first listing as well.
            show([d for d in ledger.deliveries_among(ids, app_id, outcome) if d.id not in first])
    except KeyboardInterrupt:
        pass  # Ctrl-C is how following ends: a clean exit, status 0


@deliveries_group.command("show")
@click.argument("delivery_id", type=int)
@with_appcontext
def deliveries_show_command(delivery_id):
    """One delivery with its messages, its headers (secrets redacted) and its body as kept
    (up to LEDGER_BODY_BYTES), as JSON."""
    echo_json(ledger.describe_delivery(ledger.find_delivery(delivery_id), carried=True))
