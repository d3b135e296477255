"""Doorkeeper, the front desk: every message no waitbox took joins the Contact's conversation
for that chat and thread. It is the ``trylast`` fallback and always takes the message."""
from __future__ import annotations

from sqlalchemy import select

from orqo import hookimpl
from orqo.extensions import db
from orqo.extensions import insert_or_ignore
from orqo.handlers import Route
from orqo.models import Conversation
from orqo.models import ConversationEntry


def conversation_id_for(app_id: str, contact_id: int, chat_id: str, thread_id: str | None) -> int:
    """The id of the conversation for this chat and thread, created on first use (race-safe)."""
    key = {
        "app_id": app_id,
        "contact_id": contact_id,
        "chat_id": chat_id,
        "thread_key": thread_id or "",
    }
    query = select(Conversation.id).filter_by(**key)
    found = db.session.scalar(query)
    if found is None:
        insert_or_ignore(Conversation, **key)
        found = db.session.scalar(query)
    return found


@hookimpl(trylast=True)
def route_message(app, message, record, contact_id):
    """Append the message to its conversation."""
    conversation_id = conversation_id_for(
        record.app_id, contact_id, message.chat_id, message.thread_id
    )
    db.session.add(ConversationEntry(conversation_id=conversation_id, message_id=record.id))
    return Route(handler="doorkeeper", ref=str(conversation_id))
