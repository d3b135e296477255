"""Doorkeeper, the front desk: every message no waitbox took joins the Contact's conversation
for that chat and thread, in its open session, queued for the agent runtime. A session phrase
(``new session``, ``clear session``, ``start over``, ``reset``) is recorded, not queued, and
opens a new session. It is the ``trylast`` fallback and always takes the message; orqo opens
the conversation on its first message and writes the entry (:class:`orqo.handlers.Route`)."""
from __future__ import annotations

from orqo import hookimpl
from orqo.handlers import Route
from orqo.services.conversations import is_session_phrase


@hookimpl(trylast=True)
def route_message(message):
    """Append the message to its conversation's open session."""
    control = message.kind == "message" and is_session_phrase(message.text)
    return Route(handler="doorkeeper", entry="control" if control else "queued")
