"""The contract between orqo and its plugins: every hook a plugin may implement.

Plugins import ``hookimpl`` from ``orqo`` and decorate functions (or methods) named after the
specs below. The hooks fall into three phases:

* registration: called once when an app is created, to collect what is fixed at startup;
* lifecycle: called once the app is fully set up;
* per delivery and per message: called on the request path. These must be cheap and must not
  raise; orqo still guards every call and reports a failure with the plugin's name.

The data a stage receives and returns (``StageRequest``, ``Verdict``, ``ParseResult``,
``Message``) is defined once in :mod:`orqo.stages` and :mod:`orqo.messages`, as plain data
that can equally travel over HTTP to a remote adapter.
"""
from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Callable

from pluggy import HookimplMarker
from pluggy import HookspecMarker

if TYPE_CHECKING:  # pragma: no cover - types only, no import-time cost
    from flask import Flask

    from orqo.adapters import Adapter
    from orqo.messages import Message
    from orqo.models import MessageRecord
    from orqo.handlers import Route
    from orqo.stages import ParseResult
    from orqo.stages import StageRequest
    from orqo.stages import Verdict

hookspec = HookspecMarker("orqo")
hookimpl = HookimplMarker("orqo")


# ---------------------------------------------------------------------------------------------
# Registration: called once per app, while ``create_app()`` runs
# ---------------------------------------------------------------------------------------------


@hookspec
def register_adapters(register: Callable[[type[Adapter]], None]) -> None:
    """Register the platform adapters this plugin provides.

    Called once, while the app is created, before any request is served.

    :param register: call it once per adapter with an :class:`orqo.adapters.Adapter` subclass.
        Its ``platform`` attribute is the name Apps use to choose it (``slack``, ``custom``).
        Two plugins registering the same platform name stop the app from starting, with an
        error that names both plugins.

    Return nothing. May raise only for a broken installation; the error stops startup and names
    this plugin.
    """


# ---------------------------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------------------------


@hookspec
def startup(app: Flask) -> None:
    """Called once per app, after plugins, adapters and extensions are set up.

    Every gunicorn worker creates its own app, so this runs once per worker process.

    :param app: the Flask application. Its config must not be changed here (workers would
        disagree); read ``app.config`` and keep what you need on your own objects.

    Return nothing. An exception stops startup and names this plugin.
    """


# ---------------------------------------------------------------------------------------------
# Per delivery: the verify and parse stages of ``/api/v1/webhooks/<app_id>``
# ---------------------------------------------------------------------------------------------


@hookspec
def verify_webhook(request: StageRequest, adapter: Adapter) -> Verdict | None:
    """Decide whether a delivery is genuine, before anything in it is parsed.

    Called once per delivery to ``/api/v1/webhooks/<app_id>`` (POST and GET), after the App is
    found and its raw body read, before the parse stage. Every implementation is called.

    :param request: the delivery as plain data: method, path, query, headers, the **raw body
        bytes**, and the App's credentials and config (:class:`orqo.stages.StageRequest`).
    :param adapter: the App's own adapter. orqo's built-in stage plugin answers for it by
        calling ``adapter.verify(request)``.

    Return a :class:`orqo.stages.Verdict` or ``None`` (no opinion). The delivery passes only
    when the App's own adapter accepted it and no implementation rejected it: any other plugin
    (an allow-list, say) can veto a delivery with ``Verdict.reject(reason)`` but cannot accept
    one on an adapter's behalf; its acceptances are ignored. A rejection answers the platform
    with the verdict's status (401 unless said otherwise) and nothing is parsed or routed.

    Must be cheap and must not raise. If it raises anyway, the delivery is recorded as
    ``adapter_error`` naming this plugin and answered 503 so the platform retries.
    """


@hookspec
def parse_webhook(request: StageRequest, adapter: Adapter) -> ParseResult | None:
    """Normalise a verified delivery into messages, or into a challenge response.

    Called once per delivery that passed the verify stage. Every implementation is called.

    :param request: the same :class:`orqo.stages.StageRequest` the verify stage saw.
    :param adapter: the App's own adapter. orqo's built-in stage plugin answers for it by
        calling ``adapter.parse(request)``.

    Return a :class:`orqo.stages.ParseResult` or ``None``. Only the App's own adapter decides
    the parse: other plugins may observe the delivery here but must return ``None``; a result
    from any other plugin is logged and ignored. A result with a ``challenge`` is echoed to the
    platform and processing stops; otherwise each message in ``messages`` is gated, deduplicated
    and routed on its own, and an empty list is recorded as ``ignored`` with the result's
    ``reason``.

    Must be cheap. Raise :class:`orqo.errors.MalformedDelivery` for a body the platform could
    not have meant (answered 400, recorded ``malformed``); any other exception is recorded as
    ``adapter_error`` naming this plugin and answered 503.
    """


# ---------------------------------------------------------------------------------------------
# Per message: routing
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def route_message(
    app: Flask, message: Message, record: MessageRecord, contact_id: int
) -> Route | None:
    """Hand one message from a registered Contact to the handler that should take it.

    Called once per new (not duplicate) message from a registered Contact, inside the
    delivery's database transaction, so everything a handler writes through
    ``orqo.extensions.db.session`` commits together with the ledger before the platform gets its
    2xx, or not at all. Stops at first non-None result.

    :param app: the Flask application.
    :param message: the normalised :class:`orqo.messages.Message`.
    :param record: the ledger row of this message (:class:`orqo.models.MessageRecord`), already
        flushed, so ``record.id`` and ``record.app_id`` can be referenced.
    :param contact_id: the id of the Contact that sent it.

    Return a :class:`orqo.handlers.Route` naming the handler (``waitbox``, ``doorkeeper``, ...)
    and what took the message, or ``None`` to let the next handler try. The built-in waitbox
    handler runs first (``tryfirst``) and takes the message when a waitbox is waiting for this
    Contact; for an App with "route to Doorkeeper" off, the built-in App Event handler answers
    next (runs started, or ``Route(..., outcome="no_route")``); Doorkeeper is the ``trylast``
    fallback and always answers.

    Must not raise. A handler that raises anyway has its writes rolled back, is logged with its
    plugin's name and skipped; the next handler gets the message.
    """
