"""Doorkeeper, the front desk: every message no waitbox took joins the Contact's conversation
for that chat and thread, in its open session, queued for the agent runtime. A session phrase
(``new session``, ``clear session``, ``start over``, ``reset``) is recorded, not queued, and
opens a new session. It is the ``trylast`` fallback and always takes the message."""
from __future__ import annotations

from orqo import hookimpl
from orqo.extensions import db
from orqo.handlers import Route
from orqo.models import ConversationEntry
from orqo.services.conversations import is_session_phrase
from orqo.services.conversations import open_conversation
from orqo.services.conversations import start_new_session


@hookimpl(trylast=True)
def route_message(app, message, record, contact_id):
    """Append the message to its conversation's open session."""
    conversation_id, session_id = open_conversation(
        record.app_id, contact_id, message.chat_id, message.thread_id
    )
    status = "queued"
    if message.kind == "message" and is_session_phrase(message.text):
        status = "control"
    db.session.add(ConversationEntry(conversation_id=conversation_id, session_id=session_id,
                                     message_id=record.id, status=status))
    details = {"conversation_id": conversation_id, "session_id": session_id}
    if status == "control":
        details["new_session_id"] = start_new_session(conversation_id, session_id)
    return Route(handler="doorkeeper", ref=str(conversation_id), details=details)
