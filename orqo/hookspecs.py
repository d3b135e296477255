"""The contract between orqo and its plugins: every hook a plugin may implement.

Plugins import ``hookimpl`` from ``orqo`` and decorate functions (or methods) named after the
specs below. The hooks fall into three phases:

* registration: called once when an app is created, to collect what is fixed at startup;
* lifecycle: called once the app is fully set up;
* per delivery and per message: called on the request path. These must be cheap and must not
  raise; orqo still guards every call and reports a failure with the plugin's name. The App's
  own adapter is called directly for verify and parse (:class:`orqo.adapters.Adapter`); the
  two stage hooks are how other plugins take part in those stages;
* per outbound message: called by ``orqo worker`` before the App's adapter sends
  (:meth:`orqo.adapters.Adapter.send`), off the request path.

The data a stage receives and returns (``StageRequest``, ``Verdict``, ``ParseResult``,
``Message``, ``SendRequest``, ``SendResult``) is defined once in :mod:`orqo.stages` and :mod:`orqo.messages`, as plain data
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
    from orqo.handlers import Context
    from orqo.handlers import Route
    from orqo.messages import Message
    from orqo.stages import ParseResult
    from orqo.stages import SendRequest
    from orqo.stages import SendResult
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
    """Veto a delivery the App's adapter accepted (an allow-list, say), or only look at it.

    Called through pluggy once per delivery to ``/api/v1/webhooks/<app_id>`` (POST and GET)
    that the App's own adapter accepted (:meth:`orqo.adapters.Adapter.verify`, with the
    previous credentials during a rotation's grace period), before anything in it is parsed.
    Every implementation is called; hook wrappers wrap the call.

    :param request: the delivery as plain data: method, path, query, headers, the **raw body
        bytes**, and the App's credentials and config (:class:`orqo.stages.StageRequest`).
    :param adapter: the App's adapter, which has accepted the delivery.

    Return ``Verdict.reject(reason, status=4xx)`` to refuse the delivery, or ``None``. A plugin
    cannot accept a delivery its adapter rejected (it is not asked), and an acceptance from it
    changes nothing. A rejection answers the platform with the verdict's status (401 unless
    said otherwise), records the delivery ``rejected_signature`` with the reason, and nothing
    is parsed or routed.

    Must be cheap and must not raise. If it raises anyway, the delivery is recorded as
    ``adapter_error`` naming this plugin and answered 503 so the platform retries.
    """


@hookspec
def parse_webhook(request: StageRequest, adapter: Adapter) -> ParseResult | None:
    """Look at a verified delivery after the App's adapter has parsed it.

    Called through pluggy once per delivery that passed the verify stage, right after
    :meth:`orqo.adapters.Adapter.parse` returned. Every implementation is called.

    :param request: the same :class:`orqo.stages.StageRequest` the verify stage saw.
    :param adapter: the App's adapter, whose parse result counts.

    Return ``None``. Only the App's own adapter parses: a result from a plugin is logged and
    ignored. Whatever the adapter returned is then checked once against the normalised message
    format (:func:`orqo.messages.check_message`, the same limits for every adapter): a message
    that does not fit is answered 400 and recorded ``malformed``.

    Must be cheap and must not raise; an exception is recorded as ``adapter_error`` naming
    this plugin and answered 503.
    """


# ---------------------------------------------------------------------------------------------
# Per message: routing
# ---------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def route_message(app: Flask, message: Message, context: Context) -> Route | None:
    """Decide which handler takes one message from a registered Contact. Handlers decide;
    orqo writes.

    Called once per new message from a registered Contact (not a duplicate, not throttled),
    after orqo has read, in one statement, what routing needs: the :class:`Context` holds the
    Contact, the open waitbox this message would answer, and the Doorkeeper conversation of its
    chat. Implementations are called one by one in hook order (the waitbox handler first, then
    installed handlers, the App Event handler, Doorkeeper last). Stops at first non-None result.

    :param app: the Flask application.
    :param message: the normalised :class:`orqo.messages.Message`, already checked.
    :param context: the :class:`orqo.handlers.Context`: ``app`` (the cached App: its config,
        ``route_to_doorkeeper``, the App Event triggers of its workflows), ``contact_id``,
        ``waitbox_id`` and ``waitbox_reference``, ``conversation_id`` and ``session_id``.

    Return a :class:`orqo.handlers.Route`, or ``None`` to let the next handler decide. The
    Route names the handler and says what orqo is to write with the message, in the delivery's
    one short transaction, before the platform gets its 2xx: the waitbox it answers
    (``waitbox_id``; taken only if it is still waiting, else the message is routed again), a
    Doorkeeper conversation entry (``entry``), workflow runs to start (``runs``), or nothing
    more than the ledger's ``handler``, ``ref`` and the push's ``details`` (a third-party
    handler whose own work happens when the push reaches it). A handler does not write to the
    database itself, and should not read from it: the one read has happened; keep what you
    need in memory, as orqo's App cache does. The built-in waitbox handler runs first
    (``tryfirst``); for an App with "route to Doorkeeper" off, the built-in App Event handler
    answers next (runs, or ``outcome="no_route"``); Doorkeeper is the ``trylast`` fallback and
    always answers.

    Must not raise. A handler that raises, or answers something orqo cannot store, is logged
    with its plugin's name and skipped; the next handler gets the message. Hook wrappers are
    refused at startup (handlers are called one by one so that one failing is skipped).
    """


# ---------------------------------------------------------------------------------------------
# Per outbound message: the send stage, in ``orqo worker``
# ---------------------------------------------------------------------------------------------


@hookspec
def send_message(request: SendRequest, adapter: Adapter) -> SendResult | None:
    """Veto an outbound message before the App's adapter sends it (an opt-out list, a
    compliance rule), or only look at it.

    Called through pluggy by ``orqo worker`` once per send attempt of a message an agent
    queued (``POST /api/v1/messages``), right before :meth:`orqo.adapters.Adapter.send`.
    Every implementation is called; hook wrappers wrap the call.

    :param request: the message as plain data: the App's credentials and config, the
        recipient, the text, the chat and the received message it answers
        (:class:`orqo.stages.SendRequest`).
    :param adapter: the App's adapter, which will send it.

    Return ``SendResult.failed(reason)`` to stop the message for good (it is recorded
    ``failed`` with the reason and never sent), ``SendResult.retry(reason, after)`` to hold it
    back for now, or ``None`` to let it go. The first result that is not ``None`` counts; a
    ``sent`` result is refused (a plugin cannot claim a message was sent).

    Must not raise. If it raises anyway, the attempt is recorded as a ``retry`` naming this
    plugin, and the message waits for its next attempt.
    """
