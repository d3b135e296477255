"""The waitbox handler: an agent waiting for a Contact's answer takes the next message.

Matching (done by the webhook's one read, :data:`orqo.store.READ`): same App and Contact, not
expired; a waitbox bound to a thread takes only replies in that thread; an exact thread match
wins over a thread-less waitbox, then the oldest wins. Each waitbox takes exactly one message:
orqo answers it only if it is still waiting when the message is written, and routes the
message again if another worker answered it first.
"""
from __future__ import annotations

from orqo import hookimpl
from orqo.handlers import Route


@hookimpl(tryfirst=True)
def route_message(context):
    """Answer the open waitbox this message matches, if there is one."""
    if context.waitbox_id is None:
        return None
    return Route(handler="waitbox", ref=str(context.waitbox_id), waitbox_id=context.waitbox_id,
                 details={"waitbox_id": context.waitbox_id,
                          "reference": context.waitbox_reference})
