"""Doorkeeper's conversations: the session phrases, and reading a conversation back (the
webhook path opens conversations and sessions itself, :mod:`orqo.store`)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_
from sqlalchemy import select

from orqo.api.pagination import page
from orqo.errors import ApiError
from orqo.extensions import db
from orqo.extensions import dialect_insert
from orqo.models import Conversation
from orqo.models import ConversationEntry
from orqo.models import ConversationSession
from orqo.models import MessageRecord
from orqo.models import as_utc

#: Whole messages (case-insensitive, surrounding spaces and final punctuation ignored) that
#: close the current session and open a new one.
SESSION_PHRASES = frozenset({"new session", "clear session", "start over", "reset"})


def is_session_phrase(text: str) -> bool:
    """Whether ``text`` is one of :data:`SESSION_PHRASES`."""
    return " ".join(text.strip().rstrip(".!").lower().split()) in SESSION_PHRASES


def open_conversation(conn, key: dict, now: datetime) -> tuple[int, int]:
    """The conversation of ``key`` (``app_id``, ``contact_id``, ``chat_id``, ``thread_key``)
    and its open session, each created when missing, on the SQLAlchemy connection ``conn``
    (inside the caller's transaction); ``(conversation_id, session_id)``. Safe against a
    concurrent opener: the unique constraints decide, and both read the same rows."""
    conversations, sessions = Conversation.__table__, ConversationSession.__table__
    dialect = conn.dialect.name
    conn.execute(dialect_insert(conversations, dialect).values(**key, created_at=now)
                 .on_conflict_do_nothing())
    where = and_(*(conversations.c[name] == value for name, value in key.items()))
    conversation_id = conn.execute(select(conversations.c.id).where(where)).scalar_one()
    conn.execute(dialect_insert(sessions, dialect)
                 .values(conversation_id=conversation_id, started_at=now)
                 .on_conflict_do_nothing(index_elements=["conversation_id"],
                                         index_where=sessions.c.ended_at.is_(None)))
    session_id = conn.execute(select(sessions.c.id).where(
        sessions.c.conversation_id == conversation_id,
        sessions.c.ended_at.is_(None))).scalar_one()
    return conversation_id, session_id


def describe_conversation(conversation_id: int) -> dict:
    """A conversation with its sessions, without its entries (read those a page at a time
    with :func:`entries_query`); 404 when unknown."""
    conversation = db.session.get(Conversation, conversation_id)
    if conversation is None:
        raise ApiError(404, "not_found", f"No conversation has the id {conversation_id}.")
    sessions = db.session.scalars(select(ConversationSession).filter_by(
        conversation_id=conversation_id).order_by(ConversationSession.id)).all()
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
    }


def read_conversation(conversation_id: int, args: dict) -> dict:
    """A conversation with its sessions and one page of its messages, oldest first (``args``:
    ``limit`` and ``cursor``; ``next_cursor`` continues after the page's last entry); 404 when
    unknown. What ``GET /api/v1/conversations/<id>`` and ``orqo conversations show`` give."""
    conversation = describe_conversation(conversation_id)
    entries = page(entries_query(conversation_id), ConversationEntry.id, args, describe_entry,
                   oldest_first=True)
    return {**conversation, "messages": entries["items"], "next_cursor": entries["next_cursor"]}


def contact_conversations(contact_id: int) -> list[dict]:
    """A Contact's conversations (one per App, chat and thread), newest first, without their
    sessions: ``id``, ``app_id``, ``chat_id``, ``thread_id``, ``created_at``."""
    rows = db.session.scalars(select(Conversation).filter_by(contact_id=contact_id)
                              .order_by(Conversation.id.desc()))
    return [{"id": c.id, "app_id": c.app_id, "chat_id": c.chat_id,
             "thread_id": c.thread_key or None, "created_at": as_utc(c.created_at).isoformat()}
            for c in rows]


def entries_query(conversation_id: int):
    """A conversation's entries with their messages, ``(entry, message)`` rows, for
    :func:`orqo.api.pagination.page` (ordered by ``ConversationEntry.id``)."""
    return (select(ConversationEntry, MessageRecord)
            .join(MessageRecord, MessageRecord.id == ConversationEntry.message_id)
            .where(ConversationEntry.conversation_id == conversation_id))


def describe_entry(entry: ConversationEntry, record: MessageRecord) -> dict:
    """One conversation entry with its message."""
    return {
        "entry_id": entry.id,
        "conversation_id": entry.conversation_id,
        "session_id": entry.session_id,
        "status": entry.status,
        "created_at": as_utc(entry.created_at).isoformat(),
        "message": describe_routed_message(record),
    }


#: A routed message as the agent runtime reads it (with its ``id`` first).
ROUTED_FIELDS = ("app_id", "contact_id", "platform", "kind", "sender_id", "sender_name",
                 "chat_id", "thread_id", "reply_to", "text", "action_id", "action_value", "attachments",
                 "platform_message_id", "sent_at", "extra")


def describe_routed_message(record: MessageRecord) -> dict:
    """A stored message as the agent runtime reads it (``direction`` ``outbound`` for one an
    agent sent)."""
    described = {"id": record.id, "direction": record.direction or "inbound"}
    for name in ROUTED_FIELDS:
        described[name] = getattr(record, name)
    described["attachments"] = described["attachments"] or []
    described["extra"] = described["extra"] or {}
    return described
