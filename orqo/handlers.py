"""What a routing handler answers.

Handlers are plugins implementing the ``route_message`` hook (see :mod:`orqo.hookspecs`). The
built-in ones are :mod:`orqo.default_plugins.waitbox` (first) and
:mod:`orqo.default_plugins.doorkeeper` (the ``trylast`` fallback).
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field


@dataclass(frozen=True)
class Route:
    """Where a message went.

    :param handler: the handler's name, recorded in the ledger (``waitbox``, ``doorkeeper``).
    :param ref: what took the message, for example the waitbox or conversation id.
    :param details: plain JSON values about the routing, passed on to the agent runtime in the
        push (for example the waitbox's reference, or the conversation's session).
    :param outcome: the message's ledger outcome: ``routed``, or ``no_route`` when the handler
        is responsible for the message but nothing took it (no App Event trigger matched).
    """

    handler: str
    ref: str = ""
    details: dict = field(default_factory=dict)
    outcome: str = "routed"
