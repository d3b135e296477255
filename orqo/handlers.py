"""Routing handlers: what they are given (:class:`Context`), what they answer (:class:`Route`),
and the walk that asks them in turn (:func:`choose_route`).

Handlers are plugins implementing the ``route_message`` hook (see :mod:`orqo.hookspecs`). They
decide; orqo writes. A handler reads what it needs from the :class:`Context` (everything the
webhook's one read found) and returns a :class:`Route` that says what to store; orqo stores it
with the message in the delivery's one short transaction. The built-in handlers are
:mod:`orqo.default_plugins.waitbox` (first), :mod:`orqo.default_plugins.app_events` and
:mod:`orqo.default_plugins.doorkeeper` (the ``trylast`` fallback).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import field
from typing import NamedTuple

from orqo.errors import ConfigError
from orqo.errors import PluginError

logger = logging.getLogger(__name__)

#: The conversation entry statuses a Route may ask for: ``queued`` for the agent runtime, or
#: ``control`` for a session phrase (recorded, not queued; a new session begins after it).
ENTRY_STATUSES = ("queued", "control")


class Context(NamedTuple):
    """What the webhook's one read found for a message from a registered Contact.

    :param app: the App (:class:`orqo.app_cache.CachedApp`: its adapter, config, whether it
        routes to Doorkeeper, the App Event triggers of its workflows).
    :param contact_id: the Contact that sent the message.
    :param waitbox_id: the open waitbox this message would answer (same App and Contact, not
        expired, its thread or none, an exact thread match before a thread-less one, then the
        oldest), or None.
    :param waitbox_reference: that waitbox's reference (what the agent said it waits for).
    :param conversation_id: the Contact's Doorkeeper conversation for this chat and thread,
        or None before its first message.
    :param session_id: that conversation's open session, or None.
    """

    app: object
    contact_id: int
    waitbox_id: int | None = None
    waitbox_reference: str = ""
    conversation_id: int | None = None
    session_id: int | None = None


@dataclass(frozen=True)
class Route:
    """Where a message goes, and what orqo writes for it.

    :param handler: the handler's name, recorded in the ledger (``waitbox``, ``doorkeeper``).
    :param ref: what took the message, recorded in the ledger (the waitbox id, say). For a
        route with an ``entry``, orqo sets it to the conversation id.
    :param details: plain JSON values passed on to the agent runtime in the push (the
        waitbox's reference, say). orqo adds the ids it creates (conversation, session,
        workflow runs).
    :param outcome: ``routed``, or ``no_route`` when the handler is responsible for the message
        but nothing took it (no App Event trigger matched).
    :param waitbox_id: answer this waitbox with the message. orqo takes it only if it is still
        waiting at the write; if another worker answered it first, nothing is written and the
        message is routed again.
    :param entry: append the message to its Doorkeeper conversation (opened if it has none)
        with this status, one of :data:`ENTRY_STATUSES`.
    :param runs: ``(workflow_id, trigger_id)`` pairs: start a run of each workflow, its input
        the message.
    """

    handler: str
    ref: str = ""
    details: dict = field(default_factory=dict)
    outcome: str = "routed"
    waitbox_id: int | None = None
    entry: str | None = None
    runs: tuple = ()

    def problem(self) -> str | None:
        """Why orqo cannot store this route, or None."""
        if not isinstance(self.handler, str) or not 0 < len(self.handler) <= 64:
            return "its handler must be a name of 1 to 64 characters"
        if not isinstance(self.ref, str) or len(self.ref) > 128:
            return "its ref must be a string of at most 128 characters"
        if self.outcome not in ("routed", "no_route"):
            return "its outcome must be routed or no_route"
        if self.entry is not None and self.entry not in ENTRY_STATUSES:
            return f"its entry must be one of {', '.join(ENTRY_STATUSES)}"
        if not isinstance(self.details, dict):
            return "its details must be a dict"
        return None


def check_handlers(pm) -> None:
    """Refuse, at startup, a ``route_message`` hook wrapper: handlers are called one by one
    (:func:`choose_route`), so that a failing one is skipped, and a wrapper would not wrap."""
    for impl in pm.hook.route_message.get_hookimpls():
        if impl.hookwrapper or impl.wrapper:
            raise ConfigError(f"plugin {impl.plugin_name!r} implements route_message as a hook "
                              "wrapper; routing handlers are called one by one, so return a "
                              "Route or None instead")


def handlers_in_order(pm) -> list[tuple[str, object, tuple]]:
    """``(plugin name, function, argument names)`` of each ``route_message`` implementation,
    in the order pluggy would call them; collected once, at startup."""
    return [(impl.plugin_name, impl.function, tuple(impl.argnames))
            for impl in reversed(pm.hook.route_message.get_hookimpls())]


def choose_route(handlers, app, message, context: Context) -> Route | None:
    """The first :class:`Route` one of ``handlers`` (:func:`handlers_in_order`) answers for
    ``message``.

    Each handler is called on its own: one that raises or answers something that is not a
    valid Route is logged with its plugin's name and skipped, and the next one is asked
    (pluggy's own loop would stop at the first exception). None when no handler answered.
    """
    arguments = {"app": app, "message": message, "context": context}
    for plugin_name, function, argnames in handlers:
        try:
            route = function(*[arguments[name] for name in argnames])
            if route is None:
                continue
            problem = route.problem() if isinstance(route, Route) else "it is not a Route"
            if problem:
                raise TypeError(f"returned {route!r}, which orqo cannot store: {problem}")
        except Exception as exc:  # noqa: BLE001 - any plugin failure is isolated and named
            logger.error("routing handler failed and was skipped: %s",
                         PluginError(plugin_name, "route_message", exc))
            continue
        return route
    return None
