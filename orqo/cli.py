"""The ``orqo`` command line: a Flask CLI group whose commands call the service functions."""
from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import FlaskGroup
from flask.cli import with_appcontext

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.plugins import get_plugins
from orqo.services import apps as app_service
from orqo.services import contacts as contact_service
from orqo.services import ledger
from orqo.services import push as push_service
from orqo.services import tokens as token_service


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    """``KEY=VALUE`` options as a dict; ``KEY=@path`` reads the value from a file."""
    pairs = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=option)
        if value.startswith("@"):
            with open(value[1:], encoding="utf-8") as handle:
                value = handle.read().strip()
        pairs[key] = value
    return pairs


def _echo_json(data) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True))


def _fail(exc: ApiError):
    click.echo(json.dumps({"error": {"code": exc.code, "message": exc.message,
                                     "details": exc.details}}, indent=2), err=True)
    sys.exit(1)


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create the database tables (safe to run again)."""
    db.create_all()
    click.echo(f"Initialised the database at {db.engine.url.render_as_string()}")


@click.group("apps")
def apps_group():
    """Manage Apps."""


@apps_group.command("create")
@click.option("--name", required=True, help="A name for the App.")
@click.option("--adapter", required=True, help="The adapter platform, e.g. custom or slack.")
@click.option("--credential", "credentials", multiple=True, metavar="KEY=VALUE",
              help="A credential (repeatable); KEY=@file reads the value from a file.")
@click.option("--config", "config", multiple=True, metavar="KEY=VALUE",
              help="An adapter setting (repeatable).")
@with_appcontext
def apps_create_command(name, adapter, credentials, config):
    """Create an App and print it as JSON (with its id and webhook_path)."""
    try:
        record = app_service.create_app_record(
            name, adapter, _pairs(credentials, "--credential"), _pairs(config, "--config")
        )
    except ApiError as exc:
        _fail(exc)
    _echo_json(app_service.describe_app(record))


@apps_group.command("rotate-credentials")
@click.argument("app_id")
@click.option("--credential", "credentials", multiple=True, metavar="KEY=VALUE", required=True,
              help="A new credential value (repeatable); KEY=@file reads it from a file.")
@click.option("--keep-previous-for", default=86400.0, show_default=True, type=float,
              help="Seconds during which the old credentials are still accepted.")
@with_appcontext
def apps_rotate_command(app_id, credentials, keep_previous_for):
    """Replace an App's credentials; the old ones stay valid for a grace period."""
    try:
        record = app_service.rotate_credentials(
            app_id, _pairs(credentials, "--credential"), keep_previous_for)
    except ApiError as exc:
        _fail(exc)
    _echo_json(app_service.describe_app(record))


@apps_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def apps_list_command(as_json):
    """List Apps (credentials are never shown)."""
    described = [app_service.describe_app(record) for record in app_service.list_apps()]
    if as_json:
        _echo_json(described)
        return
    for entry in described:
        click.echo(f"{entry['id']}  {entry['adapter']:<10} {entry['name']}  {entry['webhook_path']}")


@click.group("contacts")
def contacts_group():
    """Manage Contacts."""


@contacts_group.command("create")
@click.option("--name", required=True, help="The Contact's name.")
@click.option("--channel", "channels", multiple=True, metavar="APP_ID=SENDER_ID",
              help="The Contact's sender id on an App (repeatable, one per App).")
@with_appcontext
def contacts_create_command(name, channels):
    """Create a Contact and print it as JSON."""
    try:
        contact = contact_service.create_contact(name, _pairs(channels, "--channel"))
    except ApiError as exc:
        _fail(exc)
    _echo_json(contact_service.describe_contact(contact))


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
        _echo_json(described)
        return
    for entry in described:
        click.echo(f"#{entry['id']} {entry['received_at']} app={entry['app_id']} "
                   f"{entry['outcome']} {entry['status_code']} {entry['reason']}".rstrip())
        for message in entry["messages"]:
            click.echo(f"    {message['outcome']:<15} {message['handler'] or '-':<11} "
                       f"{message['dedupe_key']} {message['reason']}".rstrip())


@click.group("tokens")
def tokens_group():
    """Manage API tokens."""


@tokens_group.command("create")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--scope", "scopes", multiple=True, required=True,
              type=click.Choice(token_service.SCOPES), help="A scope (repeatable).")
@with_appcontext
def tokens_create_command(name, scopes):
    """Create a token and print it as JSON; its secret is shown this once only."""
    try:
        token, secret = token_service.issue_token(name, list(scopes))
    except ApiError as exc:
        _fail(exc)
    _echo_json({**token_service.describe_token(token), "token": secret})


@tokens_group.command("list")
@with_appcontext
def tokens_list_command():
    """List tokens as JSON (never their secrets)."""
    _echo_json([token_service.describe_token(t) for t in token_service.list_tokens()])


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke_command(token_id):
    """Revoke a token at once."""
    try:
        _echo_json(token_service.describe_token(token_service.revoke_token(token_id)))
    except ApiError as exc:
        _fail(exc)


@click.command("worker")
@click.option("--once", is_flag=True, help="Exit when no push is due instead of waiting.")
@click.option("--batch", default=20, show_default=True, type=click.IntRange(1, 500))
@with_appcontext
def worker_command(once, batch):
    """Send the push outbox to AGENT_PUSH_URL until stopped (SIGTERM finishes the batch)."""
    from orqo import worker

    if not current_app.config.get("AGENT_PUSH_URL"):
        raise click.UsageError("AGENT_PUSH_URL is not set: there is nothing to push to.")
    worker.run(current_app._get_current_object(), once=once, batch=batch)


@click.group("deliveries")
def deliveries_group():
    """Inspect and retry pushes to the agent runtime."""


@deliveries_group.command("list")
@click.option("--status", type=click.Choice(["pending", "delivered", "dead"]), default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@with_appcontext
def deliveries_list_command(status, limit):
    """List pushes, newest first, with every attempt, as JSON."""
    _echo_json([push_service.describe_push(p) for p in push_service.list_pushes(status, limit)])


@deliveries_group.command("retry")
@click.argument("push_id", type=int)
@with_appcontext
def deliveries_retry_command(push_id):
    """Send a pending or dead push again, with a fresh attempt budget."""
    try:
        _echo_json(push_service.describe_push(push_service.retry(push_id)))
    except ApiError as exc:
        _fail(exc)


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include built-in plugins.")
@with_appcontext
def plugins_command(show_all):
    """List loaded plugins with their versions, hooks and adapters, as JSON."""
    state = current_app.extensions["orqo"]
    described = get_plugins(state.pm, state.adapter_plugins)
    _echo_json([entry for entry in described if show_all or not entry["builtin"]])


def init_app(app):
    """Add orqo's commands to the app's CLI."""
    for command in (init_db_command, apps_group, contacts_group, events_group, plugins_command,
                    tokens_group, worker_command, deliveries_group):
        app.cli.add_command(command)


def _create_app():
    from orqo import create_app

    return create_app()


main = FlaskGroup(name="orqo", create_app=_create_app, load_dotenv=False,
                  help="orqo: the inbound side of ORQO.")
