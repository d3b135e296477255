"""``orqo tokens``: API tokens."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from orqo.cli.output import echo_json
from orqo.cli.output import echo_table
from orqo.cli.output import json_option
from orqo.services import tokens as token_service


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
    token, secret = token_service.issue_token(name, list(scopes))
    echo_json({**token_service.describe_token(token), "token": secret})


@tokens_group.command("list")
@json_option()
@with_appcontext
def tokens_list_command(as_json):
    """List tokens, oldest first (never their secrets: the prefix tells them apart)."""
    described = [token_service.describe_token(t) for t in token_service.list_tokens()]
    if as_json:
        echo_json(described)
        return
    echo_table(("id", "prefix", "scopes", "revoked", "last used", "name"),
               [(t["id"], t["prefix"], ",".join(t["scopes"]), t["revoked_at"],
                 t["last_used_at"], t["name"]) for t in described])


@tokens_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke_command(token_id):
    """Revoke a token at once."""
    echo_json(token_service.describe_token(token_service.revoke_token(token_id)))
