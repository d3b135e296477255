"""What a routing handler answers.

Handlers are plugins implementing the ``route_message`` hook (see :mod:`orqo.hookspecs`). The
built-in ones are :mod:`orqo.default_plugins.waitbox` (first) and
:mod:`orqo.default_plugins.doorkeeper` (the ``trylast`` fallback).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    """Where a message went.

    :param handler: the handler's name, recorded in the ledger (``waitbox``, ``doorkeeper``).
    :param ref: what took the message, for example the waitbox or conversation id.
    """

    handler: str
    ref: str = ""
