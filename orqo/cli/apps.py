"""``orqo apps`` and ``orqo contacts``."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from orqo.cli.output import echo_json
from orqo.cli.output import pairs
from orqo.services import apps as app_service
from orqo.services import contacts as contact_service


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
@click.option("--route-to-doorkeeper/--no-route-to-doorkeeper", default=True,
              show_default=True,
              help="Off: messages no waitbox takes go to the App Event triggers instead.")
@with_appcontext
def apps_create_command(name, adapter, credentials, config, route_to_doorkeeper):
    """Create an App and print it as JSON (with its id and webhook_path)."""
    record = app_service.create_app_record(
        name, adapter, pairs(credentials, "--credential"), pairs(config, "--config"),
        route_to_doorkeeper,
    )
    echo_json(app_service.describe_app(record))


@apps_group.command("rotate-credentials")
@click.argument("app_id")
@click.option("--credential", "credentials", multiple=True, metavar="KEY=VALUE", required=True,
              help="A new credential value (repeatable); KEY=@file reads it from a file.")
@click.option("--keep-previous-for", default=86400.0, show_default=True, type=float,
              help="Seconds during which the old credentials are still accepted.")
@with_appcontext
def apps_rotate_command(app_id, credentials, keep_previous_for):
    """Replace an App's credentials; the old ones stay valid for a grace period."""
    record = app_service.rotate_credentials(
        app_id, pairs(credentials, "--credential"), keep_previous_for)
    echo_json(app_service.describe_app(record))


@apps_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@with_appcontext
def apps_list_command(as_json):
    """List Apps (credentials are never shown)."""
    described = [app_service.describe_app(record) for record in app_service.list_apps()]
    if as_json:
        echo_json(described)
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
    contact = contact_service.create_contact(name, pairs(channels, "--channel"))
    echo_json(contact_service.describe_contact(contact))
