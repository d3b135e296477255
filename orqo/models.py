"""The database tables: Apps, Contacts, the ledger, dedupe claims, waitboxes, conversations."""
from __future__ import annotations

import secrets
from datetime import datetime
from datetime import timezone

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from orqo.extensions import db
from orqo.messages import Attachment
from orqo.messages import Message

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids for the ledger.
BigId = BigInteger().with_variant(Integer(), "sqlite")

DELIVERY_OUTCOMES = ("accepted", "challenge", "rejected_signature", "malformed", "adapter_error")
MESSAGE_OUTCOMES = ("routed", "duplicate", "unknown_sender", "ignored")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands back naive datetimes)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def new_app_id() -> str:
    """An opaque, random, URL-safe App id (never sequential: the URL is public)."""
    return secrets.token_urlsafe(16)


class App(db.Model):
    """An App: one platform account whose webhooks orqo receives, served by one adapter."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_app_id)
    name: Mapped[str] = mapped_column(String(200))
    adapter: Mapped[str] = mapped_column(String(40))
    credentials: Mapped[dict] = mapped_column(JSON, default=dict)
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    # During a secret rotation: the credentials replaced, still accepted until the stated time.
    previous_credentials: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    previous_credentials_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def credentials_still_accepted(self, now: datetime) -> list[dict]:
        """The previous credentials, while their grace period lasts."""
        until = as_utc(self.previous_credentials_until)
        if self.previous_credentials and until is not None and until > now:
            return [dict(self.previous_credentials)]
        return []


class Contact(db.Model):
    """A person or service orqo accepts messages from."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    channels: Mapped[list[ContactChannel]] = relationship(
        back_populates="contact", cascade="all, delete-orphan", order_by="ContactChannel.id"
    )


class ContactChannel(db.Model):
    """How a Contact appears on one App: the platform's sender id there (one per App)."""

    __tablename__ = "contact_channels"
    __table_args__ = (
        UniqueConstraint("app_id", "sender_id", name="uq_contact_channels_app_sender"),
        UniqueConstraint("contact_id", "app_id", name="uq_contact_channels_contact_app"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    sender_id: Mapped[str] = mapped_column(String(512))
    contact: Mapped[Contact] = relationship(back_populates="channels")


class Delivery(db.Model):
    """The ledger's record of one webhook delivery (its body is never stored)."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_app_id_id", "app_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    method: Mapped[str] = mapped_column(String(8))
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    status_code: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    messages: Mapped[list[MessageRecord]] = relationship(
        back_populates="delivery", order_by="MessageRecord.id"
    )


class MessageRecord(db.Model):
    """The ledger's record of one normalised message of a delivery, and what became of it."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_app_dedupe", "app_id", "dedupe_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    app_id: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(512))
    platform_message_id: Mapped[str] = mapped_column(String(512))
    sender_id: Mapped[str] = mapped_column(String(512))
    sender_name: Mapped[str | None] = mapped_column(String(512), nullable=True)
    chat_id: Mapped[str] = mapped_column(String(512))
    thread_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[float] = mapped_column(Float)
    action_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    action_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    attachments: Mapped[list] = mapped_column(JSON, default=list)
    extra: Mapped[dict] = mapped_column(JSON, default=dict)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), nullable=True
    )
    outcome: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    handler: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handler_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivery: Mapped[Delivery] = relationship(back_populates="messages")

    @classmethod
    def from_message(cls, message: Message, **fields) -> MessageRecord:
        """A ledger row holding ``message``'s content; ``fields`` sets the rest."""
        return cls(
            platform=message.platform,
            kind=message.kind,
            dedupe_key=message.dedupe_key,
            platform_message_id=message.platform_message_id,
            sender_id=message.sender_id,
            sender_name=message.sender_name,
            chat_id=message.chat_id,
            thread_id=message.thread_id,
            text=message.text,
            sent_at=message.sent_at,
            action_id=message.action_id,
            action_value=message.action_value,
            attachments=[vars(attachment) for attachment in message.attachments],
            extra=message.extra,
            **fields,
        )

    def to_message(self) -> Message:
        """The normalised message this row holds."""
        return Message(
            platform=self.platform,
            sender_id=self.sender_id,
            text=self.text,
            chat_id=self.chat_id,
            platform_message_id=self.platform_message_id,
            dedupe_key=self.dedupe_key,
            sent_at=self.sent_at,
            thread_id=self.thread_id,
            sender_name=self.sender_name,
            kind=self.kind,
            action_id=self.action_id,
            action_value=self.action_value,
            attachments=[Attachment(**item) for item in self.attachments or ()],
            extra=self.extra or {},
        )


class DedupeClaim(db.Model):
    """The first message stored under an (App, dedupe key): the constraint that makes routing
    happen exactly once, however many copies race in however many workers."""

    __tablename__ = "dedupe_claims"

    app_id: Mapped[str] = mapped_column(
        ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True
    )
    dedupe_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Waitbox(db.Model):
    """An agent waiting for one answer from one Contact on one App (optionally in a thread)."""

    __tablename__ = "waitboxes"
    __table_args__ = (
        Index("ix_waitboxes_waiting", "app_id", "contact_id", "status", "created_at"),
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
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True
    )


class Conversation(db.Model):
    """Doorkeeper's conversation with one Contact in one chat (and thread) of one App."""

    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint(
            "app_id", "contact_id", "chat_id", "thread_key", name="uq_conversations_chat"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    chat_id: Mapped[str] = mapped_column(String(512))
    # "" when the conversation is not in a thread: NULLs never collide in a unique constraint.
    thread_key: Mapped[str] = mapped_column(String(512), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConversationEntry(db.Model):
    """One message appended to a Doorkeeper conversation."""

    __tablename__ = "conversation_entries"
    __table_args__ = (Index("ix_conversation_entries_conv", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
