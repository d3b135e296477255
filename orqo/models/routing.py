"""What routing writes: waitboxes, and Doorkeeper's conversations."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from orqo.extensions import db
from orqo.models.base import BigId
from orqo.models.base import NEVER_REUSED
from orqo.models.base import utcnow


class Waitbox(db.Model):
    """An agent waiting for one answer from one Contact on one App (optionally in a thread)."""

    __tablename__ = "waitboxes"
    __table_args__ = (
        Index("ix_waitboxes_waiting", "app_id", "contact_id", "status", "created_at"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    thread_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    reference: Mapped[str] = mapped_column(String(512), default="")
    status: Mapped[str] = mapped_column(String(16), default="waiting")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # The outbound message whose answer this waitbox awaits (POST /api/v1/messages with
    # await_reply), and, once it is sent, what an answer to it carries as its reply_to.
    question_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True, index=True
    )
    reply_key: Mapped[str | None] = mapped_column(String(512), nullable=True)


class Conversation(db.Model):
    """Doorkeeper's conversation with one Contact in one chat (and thread) of one App."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint(
            "app_id", "contact_id", "chat_id", "thread_key", name="uq_conversations_chat"
        ),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    chat_id: Mapped[str] = mapped_column(String(512))
    # "" when the conversation is not in a thread: NULLs never collide in a unique constraint.
    thread_key: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationSession(db.Model):
    """A stretch of a conversation; ``new session``, ``reset``... end it and open the next.

    At most one session per conversation is open (``ended_at`` NULL), enforced by a partial
    unique index so that two workers cannot both open one.
    """

    __tablename__ = "conversation_sessions"
    __table_args__ = (
        Index("uq_conversation_sessions_open", "conversation_id", unique=True,
              sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


#: Statuses of a conversation entry in Doorkeeper's work queue. ``control`` entries (the
#: session phrases) and ``outbound`` entries (what an agent sent into the conversation) are
#: recorded but never handed to the agent runtime.
ENTRY_STATUSES = ("queued", "claimed", "acked", "control", "outbound")


class ConversationEntry(db.Model):
    """One message appended to a Doorkeeper conversation, and its place in the work queue.

    A claim hands the entry to one claimant until ``lease_until``; unacknowledged, it returns
    to the queue when the lease ends. ``claim_token`` identifies the claim that may ack it.
    """

    __tablename__ = "conversation_entries"
    __table_args__ = (
        Index("ix_conversation_entries_conv", "conversation_id", "id"),
        Index("ix_conversation_entries_queue", "status", "lease_until", "id"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    session_id: Mapped[int] = mapped_column(
        ForeignKey("conversation_sessions.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"),
                                            index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    acked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
