"""orqo: verified platform webhooks, a contact gate, and routing to waiting agents or Doorkeeper.

Plugins need one import from here: ``from orqo import hookimpl``.
"""
from __future__ import annotations

import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from orqo.hookspecs import hookimpl

__version__ = "0.1.0"
__all__ = ["__version__", "create_app", "hookimpl"]


def create_app(test_config: dict | None = None, plugins=()) -> Flask:
    """Create and configure an orqo application.

    :param test_config: config applied last, over every other source.
    :param plugins: extra plugin objects or modules to register (tests use this).
    """
    from orqo import api
    from orqo import bodies
    from orqo import cli
    from orqo import console
    from orqo import errors
    from orqo import health
    from orqo import logs
    from orqo import metrics
    from orqo import webhooks
    from orqo.config import as_bool
    from orqo.config import as_name_list
    from orqo.config import settings_app
    from orqo.extensions import MIGRATIONS_DIR
    from orqo.extensions import db
    from orqo.extensions import migrate
    from orqo.extensions import engine_options
    from orqo.extensions import normalise_database_url
    from orqo.handlers import check_handlers
    from orqo.plugins import PluginState
    from orqo.plugins import collect_adapters
    from orqo.plugins import make_plugin_manager
    from orqo.plugins import run_startup

    app = settings_app(test_config)
    # Before any route is added: ids in URLs are bounded to what the database stores.
    app.url_map.converters["int"] = errors.BoundedIntConverter
    # "//" is not merged into "/": werkzeug would answer a 308 redirect, which clients follow
    # (POST /api/v1//hooks/<token> included), outside orqo's JSON error shape. It is a 404.
    app.url_map.merge_slashes = False
    os.makedirs(app.instance_path, exist_ok=True)
    app.config["LOAD_ENTRYPOINTS"] = as_bool(app.config["LOAD_ENTRYPOINTS"])

    if app.config["DATABASE_URL"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    url = normalise_database_url(app.config["SQLALCHEMY_DATABASE_URI"])
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    options = engine_options(url, app.config["DATABASE_CONNECT_TIMEOUT"])
    # SQL parameters (credentials among them) stay out of exception texts and so out of logs.
    options["hide_parameters"] = True
    options.update(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    # Batch mode: SQLite can only change a table by copying it.
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True, compare_type=True)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            from orqo import sqlite

            sqlite.init_engine(db.engine, app.config["SQLITE_SYNCHRONOUS"].upper())

    pm = make_plugin_manager(
        load_entrypoints=app.config["LOAD_ENTRYPOINTS"],
        blocked=as_name_list(app.config["DISABLED_PLUGINS"]),
        plugins=plugins,
    )
    check_handlers(pm)
    adapters, adapter_plugins = collect_adapters(pm)
    app.extensions["orqo"] = PluginState(pm=pm, adapters=adapters, adapter_plugins=adapter_plugins)

    from orqo.services.push import check_config

    check_config(app.config)
    if app.config["PROXY_COUNT"]:
        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)
    logs.init_app(app)
    errors.init_app(app)
    app.after_request(_no_sniffing)
    app.before_request(bodies.limit_chunked_body)
    webhooks.init_app(app, pm, adapters)
    health.init_app(app)
    metrics.init_app(app)
    api.init_app(app)
    console.init_app(app)
    cli.init_app(app)
    run_startup(pm, app)
    return app


def _no_sniffing(response):
    # Every answer, API or not, is what its Content-Type says: browsers must not guess HTML.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
