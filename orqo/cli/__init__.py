"""The ``orqo`` command line: a Flask CLI group whose commands call the service functions
(the same ones the HTTP API calls), one module per area. Commands raise; the group prints an
expected failure as one line and exits 1 (:mod:`orqo.cli.errors`).
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from flask.cli import FlaskGroup
from flask.cli import ScriptInfo
from flask.cli import with_appcontext

from orqo import database
from orqo.cli.errors import ErrorMapping
from orqo.cli.errors import echo_error
from orqo.cli.errors import expected_error
from orqo.cli.output import echo_json
from orqo.extensions import db
from orqo.plugins import get_plugins


@click.command("init-db")
@with_appcontext
def init_db_command():
    """Create or upgrade the database to the newest migration (safe to run again)."""
    database.upgrade()
    click.echo(f"Initialised the database at {db.engine.url.render_as_string()} "
               f"(migration {database.head_revision()})")


@click.command("plugins")
@click.option("--all", "show_all", is_flag=True, help="Include built-in plugins.")
@with_appcontext
def plugins_command(show_all):
    """List loaded plugins with their versions, hooks and adapters, as JSON."""
    state = current_app.extensions["orqo"]
    described = get_plugins(state.pm, state.adapter_plugins)
    echo_json([entry for entry in described if show_all or not entry["builtin"]])


class OrqoAppGroup(ErrorMapping, AppGroup):
    """The app's own command group (``app.cli``, what ``app.test_cli_runner()`` runs)."""


class OrqoGroup(ErrorMapping, FlaskGroup):
    """The ``orqo`` console script: Flask's group, loading the app with ``create_app()``."""

    def list_commands(self, ctx):
        """The commands for ``--help``; an app that cannot load is one line, not a traceback."""
        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except Exception as exc:
            error = expected_error(exc)
            if error is None:
                raise
            echo_error(error)
            self._load_plugin_commands()
            return sorted(click.Group.list_commands(self, ctx))
        return super().list_commands(ctx)


def init_app(app):
    """Add orqo's commands to the app's CLI."""
    from orqo.cli import adapters
    from orqo.cli import agents
    from orqo.cli import apps
    from orqo.cli import ledger
    from orqo.cli import messages
    from orqo.cli import rejections
    from orqo.cli import retention
    from orqo.cli import tokens
    from orqo.cli import workflows

    # Keeps the commands already added (Flask-Migrate's `db`), with orqo's error mapping.
    app.cli = OrqoAppGroup(name=app.cli.name, commands=app.cli.commands)
    for command in (init_db_command, plugins_command, apps.apps_group, apps.contacts_group,
                    ledger.deliveries_group, rejections.rejections_group, tokens.tokens_group,
                    agents.worker_command, messages.messages_group,
                    agents.pushes_group, workflows.workflows_group, workflows.triggers_group,
                    workflows.runs_group, adapters.adapters_group,
                    adapters.adapter_serve_command, retention.prune_command):
        app.cli.add_command(command)


def _create_app():
    from orqo import create_app

    return create_app()


main = OrqoGroup(name="orqo", create_app=_create_app, load_dotenv=False,
                  help="orqo: the inbound side of ORQO.")
