"""Doorkeeper's conversations: finding or opening one, its sessions, and reading it back."""
from __future__ import annotations

from sqlalchemy import and_
from sqlalchemy import select
from sqlalchemy import update

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.extensions import insert_or_ignore
from orqo.models import Conversation
from orqo.models import ConversationEntry
from orqo.models import ConversationSession
from orqo.models import MessageRecord
from orqo.models import as_utc
from orqo.models import utcnow

#: Whole messages (case-insensitive, surrounding spaces and final punctuation ignored) that
#: close the current session and open a new one.
SESSION_PHRASES = frozenset({"new session", "clear session", "start over", "reset"})


def is_session_phrase(text: str) -> bool:
    """Whether ``text`` is one of :data:`SESSION_PHRASES`."""
    return " ".join(text.strip().rstrip(".!").lower().split()) in SESSION_PHRASES


def open_conversation(app_id: str, contact_id: int, chat_id: str, thread_id: str | None):
    """``(conversation_id, open_session_id)`` for this chat and thread, creating what is missing.

    Safe when several workers do it at once: unique constraints decide, the losers re-read.
    """
    key = {"app_id": app_id, "contact_id": contact_id, "chat_id": chat_id,
           "thread_key": thread_id or ""}
    query = (
        select(Conversation.id, ConversationSession.id)
        .outerjoin(ConversationSession, and_(
            ConversationSession.conversation_id == Conversation.id,
            ConversationSession.ended_at.is_(None)))
        .filter_by(**key)
    )
    row = db.session.execute(query).first()
    if row is None:
        insert_or_ignore(Conversation, **key)
        row = db.session.execute(query).first()
    conversation_id, session_id = row
    if session_id is None:
        insert_or_ignore(ConversationSession, conversation_id=conversation_id)
        session_id = db.session.scalar(select(ConversationSession.id).where(
            ConversationSession.conversation_id == conversation_id,
            ConversationSession.ended_at.is_(None)))
    return conversation_id, session_id


def start_new_session(conversation_id: int, session_id: int) -> int:
    """End ``session_id`` and open the conversation's next session; return its id."""
    db.session.execute(update(ConversationSession).where(ConversationSession.id == session_id)
                       .values(ended_at=utcnow()).execution_options(synchronize_session=False))
    new_session = ConversationSession(conversation_id=conversation_id)
    db.session.add(new_session)
    db.session.flush()
    return new_session.id


def describe_conversation(conversation_id: int) -> dict:
    """A conversation with its sessions and its messages in order; 404 when unknown."""
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        raise ApiError(404, "not_found", f"No conversation has the id {conversation_id}.")
    sessions = db.session.scalars(select(ConversationSession).filter_by(
        conversation_id=conversation_id).order_by(ConversationSession.id)).all()
    rows = db.session.execute(
        select(ConversationEntry, MessageRecord)
        .join(MessageRecord, MessageRecord.id == ConversationEntry.message_id)
        .where(ConversationEntry.conversation_id == conversation_id)
        .order_by(ConversationEntry.id)
    ).all()
    return {
        "id": conversation.id,
        "app_id": conversation.app_id,
        "contact_id": conversation.contact_id,
        "chat_id": conversation.chat_id,
        "thread_id": conversation.thread_key or None,
        "sessions": [{
            "id": s.id,
            "started_at": as_utc(s.started_at).isoformat(),
            "ended_at": as_utc(s.ended_at).isoformat() if s.ended_at else None,
        } for s in sessions],
        "messages": [describe_entry(entry, record) for entry, record in rows],
    }


def describe_entry(entry: ConversationEntry, record: MessageRecord) -> dict:
    """One conversation entry with its message."""
    return {
        "entry_id": entry.id,
        "conversation_id": entry.conversation_id,
        "session_id": entry.session_id,
        "status": entry.status,
        "message": describe_routed_message(record),
    }


def describe_routed_message(record: MessageRecord) -> dict:
    """A stored message as the agent runtime reads it."""
    return {
        "id": record.id,
        "app_id": record.app_id,
        "contact_id": record.contact_id,
        "platform": record.platform,
        "kind": record.kind,
        "sender_id": record.sender_id,
        "sender_name": record.sender_name,
        "chat_id": record.chat_id,
        "thread_id": record.thread_id,
        "text": record.text,
        "action_id": record.action_id,
        "action_value": record.action_value,
        "attachments": record.attachments or [],
        "platform_message_id": record.platform_message_id,
        "sent_at": record.sent_at,
        "extra": record.extra or {},
    }
