"""``orqo adapters show`` (what an adapter's Apps take), ``orqo adapters check`` and
``orqo adapter-serve`` (adapters over ORQO's HTTP contract).

``adapter-serve`` runs gunicorn in-process (its ``gthread`` workers keep connections alive, so
a calling orqo's pooled connections are reused) on the app of :mod:`orqo.adapter_server`; it
needs no database. ``--certfile``/``--keyfile`` serve TLS directly; otherwise put it on
loopback or behind a TLS-terminating proxy, since callers send credentials with every request.
"""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

from orqo.adapters import describe_settings
from orqo.cli.output import echo_json
from orqo.errors import ApiError
from orqo.errors import UnknownPlatform
from orqo.services import apps as app_service


@click.group("adapters")
def adapters_group():
    """Describe and check the adapters Apps use."""


def _field_lines(title: str, described: list[dict]) -> list[str]:
    lines = [f"{title}:"]
    if not described:
        return lines + ["  (none)"]
    width = max(len(field["name"]) for field in described)
    for field in described:
        traits = [field["type"], "required" if field["required"] else "optional"]
        if field["default"] is not None:
            traits.append(f"default {json.dumps(field['default'], ensure_ascii=False)}")
        if field["choices"]:
            traits.append("one of " + ", ".join(map(str, field["choices"])))
        lines.append(f"  {field['name']:<{width}}  {'; '.join(traits)}")
        if field["description"]:
            lines.append(f"  {'':<{width}}  {field['description']}")
    return lines


@adapters_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
@with_appcontext
def adapters_show_command(name, as_json):
    """Show what Apps of the installed adapter NAME take: each credential and config field
    with its type, whether it is required, its default and what it is."""
    adapters = current_app.extensions["orqo"].adapters
    if name not in adapters:
        raise ApiError(404, "unknown_platform", str(UnknownPlatform(name)),
                       {"installed": sorted(adapters)})
    described = describe_settings(adapters[name])
    if as_json:
        echo_json(described)
        return
    lines = [f"{described['platform']}: {described['description']}",
             "sends messages: " + ("yes" if described["sends"] else "no"),
             "orqo send: " + ("yes" if described["samples"] else "no"), ""]
    lines += _field_lines("credentials (secret, never shown back)", described["credentials"])
    lines += [""] + _field_lines("config", described["config"])
    click.echo("\n".join(lines))


@adapters_group.command("check")
@click.argument("app_id")
@with_appcontext
def adapters_check_command(app_id):
    """Show a remote App's adapter manifest and health as JSON; exit 1 when it is not ready."""
    record = app_service.find_app_record(app_id)
    adapter = current_app.extensions["orqo"].adapters.get(record.adapter)
    # Adapters that run elsewhere (the orqo-remote plugin's) describe themselves via check().
    check = getattr(adapter, "check", None)
    if not callable(check):
        raise ApiError(422, "not_remote", f"App {record.id} uses the adapter "
                       f"{record.adapter!r}, which is not a remote adapter (or not installed); "
                       "there is no manifest or health to check.")
    report = {"app_id": record.id, "adapter": record.adapter,
              **check(dict(record.credentials or {}), dict(record.config or {}))}
    if not report["ready"]:
        raise ApiError(503, "adapter_not_ready", "; ".join(report["errors"]), report)
    echo_json(report)


def run_gunicorn(wsgi_app, options: dict) -> None:
    """Serve ``wsgi_app`` with gunicorn (its settings in ``options``) until stopped."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                if key in self.cfg.settings:  # settings differ between gunicorn versions
                    self.cfg.set(key, value)

        def load(self):
            return wsgi_app

    Server().run()


@click.command("adapter-serve")
@click.argument("platform")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to bind.")
@click.option("--port", default=8100, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="gunicorn worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker.")
@click.option("--certfile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Serve HTTPS with this certificate (PEM).")
@click.option("--keyfile", type=click.Path(exists=True, dir_okay=False), default=None,
              help="The certificate's private key (PEM).")
def adapter_serve_command(platform, host, port, workers, threads, certfile, keyfile):
    """Serve the installed adapter PLATFORM over ORQO's HTTP adapter contract.

    Endpoints: GET /manifest.json, GET /health, POST /verify-webhook, POST /parse-inbound,
    POST /deliver (when the adapter sends).
    """
    from orqo.adapter_server import create_adapter_app
    from orqo.adapter_server import installed_adapters

    if bool(certfile) != bool(keyfile):
        raise click.UsageError("--certfile and --keyfile go together.")
    try:
        wsgi_app = create_adapter_app(platform)
    except UnknownPlatform as exc:
        installed = sorted(installed_adapters()[1])
        raise ApiError(404, "unknown_platform", str(exc), {"installed": installed}) from None
    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers, "threads": threads, "worker_class": "gthread",
        # The caller's budget is a few seconds; a request still running after 30 s is stuck.
        "timeout": 30, "graceful_timeout": 10, "keepalive": 5,
        "accesslog": "-", "errorlog": "-", "certfile": certfile, "keyfile": keyfile,
        "control_socket_disable": True, "proc_name": f"orqo-adapter-{platform}",
    }
    click.echo(f"Serving adapter {platform!r} on {'https' if certfile else 'http'}://"
               f"{host}:{port}", err=True)
    run_gunicorn(wsgi_app, options)
