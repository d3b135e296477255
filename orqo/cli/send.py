"""``orqo send``: a signed test delivery to an App's webhook URL, as its platform sends it.

Like ``stripe trigger``: the App's adapter makes the delivery
(:meth:`orqo.adapters.Adapter.sample_delivery`, signed with the App's own credentials, new ids
every time), and it is POSTed over HTTP to a running orqo, so it takes the whole webhook path:
verify, parse, dedupe, route, ledger. The base URL is ``--url``, else the ``PUBLIC_BASE_URL``
setting, else ``http://127.0.0.1:8000`` (``make run``'s address).
"""
from __future__ import annotations

import click
import requests
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from orqo.adapters import BaseUrl
from orqo.adapters import SampleDeliveryError
from orqo.cli.output import echo_json
from orqo.errors import ApiError
from orqo.extensions import db
from orqo.services import apps as app_service

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
#: Seconds to wait for orqo's answer (the webhook path answers in well under a second).
TIMEOUT = 30


def base_url(given: str | None) -> str:
    """The orqo to send to: ``given``, the ``PUBLIC_BASE_URL`` setting, or the default."""
    url = given or current_app.config.get("PUBLIC_BASE_URL") or DEFAULT_BASE_URL
    try:
        BaseUrl()(url)
    except ValidationError as exc:
        raise click.BadParameter(" ".join(exc.messages), param_hint="--url") from None
    return url.rstrip("/")


def answer_of(response: requests.Response):
    """orqo's answer: JSON when it is JSON, else its text."""
    try:
        return response.json()
    except ValueError:
        return response.text


@click.command("send")
@click.argument("app_id")
@click.option("--sender", required=True,
              help="The sender id, in the platform's form (as a Contact's Channel names it).")
@click.option("--text", required=True, help="The message's text.")
@click.option("--thread", default=None,
              help="The thread the message is in, in the platform's form (a Slack thread's "
                   "root ts, a Telegram <chat_id>:<message_id>, a WhatsApp wamid it quotes).")
@click.option("--url", "url", default=None,
              help=f"orqo's base URL [default: PUBLIC_BASE_URL, else {DEFAULT_BASE_URL}].")
@click.option("--json", "as_json", is_flag=True,
              help="Print {url, status, answer} as JSON.")
@with_appcontext
def send_command(app_id, sender, text, thread, url, as_json):
    """Sign a delivery of one message as App APP_ID's platform would and POST it to the App's
    webhook URL; print orqo's status and answer. Exits 1 when orqo refuses it (not 2xx)."""
    record = app_service.find_app_record(app_id)
    adapter = app_service.installed_adapter(record)
    target = base_url(url) + app_service.webhook_path(record)
    credentials, config = dict(record.credentials or {}), dict(record.config or {})
    name = f"App {record.id} ({record.adapter})"
    # No transaction stays open while orqo handles the delivery: on SQLite, a reader's lock
    # would keep the server from recording it.
    db.session.rollback()
    try:
        body, headers = adapter.sample_delivery(credentials, config, sender, text, thread)
    except SampleDeliveryError as exc:
        raise ApiError(422, "cannot_make_sample", f"{name}: {exc}.") from None
    try:
        response = requests.post(target, data=body, headers=headers, timeout=TIMEOUT,
                                 allow_redirects=False)
    except requests.RequestException as exc:
        reason = type(exc).__name__
        raise ApiError(503, "orqo_unreachable", f"Could not POST to {target} ({reason}): is "
                       "orqo running there? Give its address with --url.") from None
    answer = answer_of(response)
    if as_json:
        echo_json({"url": target, "status": response.status_code, "answer": answer})
    else:
        click.echo(f"{response.status_code} {response.reason}")
        click.echo(response.text.rstrip("\n"))
    if not 200 <= response.status_code < 300:
        raise click.exceptions.Exit(1)
