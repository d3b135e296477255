"""The ``orqo`` command line: a Flask CLI group whose commands call the service functions
(the same ones the HTTP API calls), one module per area. Commands raise; the group prints an
expected failure as one line and exits 1 (:mod:`orqo.cli.errors`).
"""
from __future__ import annotations

import copy
import importlib.metadata
import platform

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


def installed_plugins() -> list[tuple[str, str, str]]:
    """The plugins installed for orqo (entry points of the ``orqo`` group): each one's name,
    distribution and version, read from the package metadata without creating the app."""
    found = {(ep.name, ep.dist.name if ep.dist else "?", ep.dist.version if ep.dist else "?")
             for ep in importlib.metadata.entry_points(group="orqo")}
    return sorted(found)


def print_version(ctx, _param, value):
    """``--version``: orqo's version, Python's and the installed plugins' (not Flask's)."""
    if not value or ctx.resilient_parsing:
        return
    from orqo import __version__

    lines = [f"orqo {__version__}", f"Python {platform.python_version()}"]
    plugins = installed_plugins()
    lines.append("plugins:" if plugins else "plugins: none installed")
    lines += [f"  {name} {version} ({dist})" for name, dist, version in plugins]
    click.echo("\n".join(lines))
    ctx.exit()


#: Flask's own commands: listed after orqo's in ``orqo --help``.
FLASK_COMMANDS = ("run", "shell", "routes")
#: Flask's options that mean nothing for orqo's commands: they work, but ``--help`` hides
#: them (``-A/--app``: orqo loads its own app; ``--debug``: for ``orqo run`` only).
HIDDEN_FLASK_OPTIONS = ("app", "debug")


class OrqoGroup(ErrorMapping, FlaskGroup):
    """The ``orqo`` console script: Flask's group, loading the app with ``create_app()``.

    Its ``--version`` is orqo's, and its ``--help`` lists orqo's commands before Flask's."""

    def __init__(self, **extra):
        version = click.Option(["--version"], is_flag=True, expose_value=False, is_eager=True,
                               callback=print_version,
                               help="Show orqo's version and the installed plugins.")
        super().__init__(add_version_option=False, params=[version], **extra)
        self.params = [self._hidden(param) for param in self.params]

    @staticmethod
    def _hidden(param):
        if param.name not in HIDDEN_FLASK_OPTIONS:
            return param
        param = copy.copy(param)  # Flask's option objects are shared: never change them
        param.hidden = True
        return param

    def format_commands(self, ctx, formatter):
        """Two sections: orqo's commands, then Flask's (``run``, ``shell``, ``routes``)."""
        names = self.list_commands(ctx)
        for title, section in (("Commands", [n for n in names if n not in FLASK_COMMANDS]),
                               ("Flask's commands", [n for n in names if n in FLASK_COMMANDS])):
            commands = [(name, self.get_command(ctx, name)) for name in section]
            commands = [(n, c) for n, c in commands if c is not None and not c.hidden]
            limit = formatter.width - 6 - max((len(n) for n, _ in commands), default=0)
            rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
            if rows:
                with formatter.section(title):
                    formatter.write_dl(rows)

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
    from orqo.cli import routing
    from orqo.cli import send
    from orqo.cli import tokens
    from orqo.cli import workflows

    # Keeps the commands already added (Flask-Migrate's `db`), with orqo's error mapping.
    app.cli = OrqoAppGroup(name=app.cli.name, commands=app.cli.commands)
    for command in (init_db_command, plugins_command, apps.apps_group, apps.contacts_group,
                    ledger.deliveries_group, rejections.rejections_group, tokens.tokens_group,
                    agents.worker_command, messages.messages_group,
                    routing.waitboxes_group, routing.conversations_group,
                    agents.pushes_group, workflows.workflows_group, workflows.triggers_group,
                    workflows.runs_group, adapters.adapters_group,
                    adapters.adapter_serve_command, retention.prune_command):
        app.cli.add_command(command)
    app.cli.add_command(send.send_command)


def _create_app():
    from orqo import create_app

    return create_app()


main = OrqoGroup(name="orqo", create_app=_create_app, load_dotenv=False,
                  help="orqo: the inbound side of ORQO.")
