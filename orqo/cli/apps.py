"""``orqo apps`` and ``orqo contacts``."""
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
from orqo.cli.output import pairs
from orqo.models import Contact
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
    """Create an App and print it as JSON, with the webhook_url to give its platform."""
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
@json_option()
@with_appcontext
def apps_list_command(as_json):
    """List Apps, oldest first, enabled or disabled (credentials are never shown)."""
    described = app_service.describe_apps(app_service.list_apps())
    if as_json:
        echo_json(described)
        return
    echo_table(("id", "adapter", "state", "name", "webhook_url"),
               [(e["id"], e["adapter"], "enabled" if e["enabled"] else "disabled", e["name"],
                 e["webhook_url"]) for e in described])


@apps_group.command("show")
@click.argument("app_id")
@with_appcontext
def apps_show_command(app_id):
    """Print one App as JSON, with the webhook_url to give its platform and its activity
    (last delivery, the last 24 hours' deliveries, errors and error rate)."""
    echo_json(app_service.describe_app(app_service.find_app_record(app_id)))


@apps_group.command("disable")
@click.argument("app_id")
@with_appcontext
def apps_disable_command(app_id):
    """Turn an App off without deleting it: its deliveries are answered 403 app_disabled and
    route nothing, and no new message can be sent through it (already queued ones still
    are). Every worker sees it within APP_CACHE_SECONDS. Prints the App as JSON."""
    echo_json(app_service.describe_app(app_service.set_app_enabled(app_id, False)))


@apps_group.command("enable")
@click.argument("app_id")
@with_appcontext
def apps_enable_command(app_id):
    """Turn a disabled App on again: its deliveries are accepted once more. Prints the App as
    JSON."""
    echo_json(app_service.describe_app(app_service.set_app_enabled(app_id, True)))


@apps_group.command("update")
@click.argument("app_id")
@click.option("--name", default=None, help="A new name.")
@click.option("--credential", "credentials", multiple=True, metavar="KEY=VALUE",
              help="Replace this credential (repeatable), ending any rotation's grace period; "
                   "KEY=@file reads the value from a file.")
@click.option("--config", "config", multiple=True, metavar="KEY=VALUE",
              help="Change this adapter setting (repeatable); the others keep their value.")
@click.option("--route-to-doorkeeper/--no-route-to-doorkeeper", default=None,
              help="On: messages no waitbox takes go to Doorkeeper; off: to the App Event "
                   "triggers. Unchanged when not given.")
@with_appcontext
def apps_update_command(app_id, name, credentials, config, route_to_doorkeeper):
    """Change an App and print it as JSON; the result is validated like a new App."""
    changes = {}
    if name is not None:
        changes["name"] = name
    if credentials:
        changes["credentials"] = pairs(credentials, "--credential")
    if config:
        stored = app_service.find_app_record(app_id).config or {}
        changes["config"] = {**stored, **pairs(config, "--config")}
    if route_to_doorkeeper is not None:
        changes["route_to_doorkeeper"] = route_to_doorkeeper
    if not changes:
        raise click.UsageError("Nothing to change: give --name, --credential, --config or "
                               "--[no-]route-to-doorkeeper.")
    echo_json(app_service.describe_app(app_service.update_app_record(app_id, changes)))


@apps_group.command("delete")
@click.argument("app_id")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def apps_delete_command(app_id, yes):
    """Delete an App with its Channels and its ledger (deliveries, messages, waitboxes,
    conversations): they cannot be recovered. Asks first unless --yes."""
    record = app_service.find_app_record(app_id)
    if not yes:
        click.confirm(f"Delete App {record.id} ({record.name}) and its ledger: every delivery, "
                      "message, waitbox and conversation recorded for it?", abort=True,
                      err=True)
    app_service.delete_app_record(app_id)
    click.echo(f"Deleted App {app_id}.")


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


@contacts_group.command("list")
@click.option("--app", "app_id", default=None, help="Only Contacts with a Channel on this App.")
@click.option("--search", default=None,
              help="Only Contacts whose name contains this (ignoring case) or with a Channel "
                   "whose sender id contains it.")
@limit_option()
@cursor_option()
@json_option()
@with_appcontext
def contacts_list_command(app_id, search, limit, cursor, as_json):
    """List Contacts, newest first, one page at a time (as GET /api/v1/contacts)."""
    result = page(contact_service.contacts_query(app_id, search), Contact.id,
                  {"limit": limit, "cursor": cursor}, contact_service.describe_contact)
    if as_json:
        echo_json(result)
        return
    echo_table(("id", "name", "channels"), [
        (c["id"], c["name"], " ".join(f"{ch['app_id']}={ch['sender_id']}" for ch in c["channels"]))
        for c in result["items"]])
    echo_more(result)


@contacts_group.command("show")
@click.argument("contact_id", type=int)
@with_appcontext
def contacts_show_command(contact_id):
    """Print one Contact with its Channels as JSON."""
    echo_json(contact_service.describe_contact(contact_service.find_contact(contact_id)))


@contacts_group.command("update")
@click.argument("contact_id", type=int)
@click.option("--name", default=None, help="A new name.")
@click.option("--channel", "channels", multiple=True, metavar="APP_ID=SENDER_ID",
              help="The Contact's Channels (repeatable); given, they replace all its Channels.")
@click.option("--no-channels", is_flag=True, help="Remove all of the Contact's Channels.")
@with_appcontext
def contacts_update_command(contact_id, name, channels, no_channels):
    """Rename a Contact or replace its Channels, and print it as JSON."""
    if channels and no_channels:
        raise click.UsageError("Give --channel or --no-channels, not both.")
    changes = {}
    if name is not None:
        changes["name"] = name
    if channels or no_channels:
        changes["channels"] = pairs(channels, "--channel")
    if not changes:
        raise click.UsageError("Nothing to change: give --name, --channel or --no-channels.")
    echo_json(contact_service.describe_contact(
        contact_service.update_contact(contact_id, changes)))


@contacts_group.command("delete")
@click.argument("contact_id", type=int)
@with_appcontext
def contacts_delete_command(contact_id):
    """Delete a Contact and its Channels; the ledger keeps its history."""
    contact_service.delete_contact(contact_id)
    click.echo(f"Deleted Contact {contact_id}.")
