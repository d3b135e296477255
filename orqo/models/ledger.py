"""The ledger: deliveries and their messages (whose unique claim key is the dedupe)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import DateTime
from sqlalchemy import Boolean
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from orqo.extensions import db
from orqo.messages import Attachment
from orqo.messages import Message
from orqo.models.base import BigId
from orqo.models.base import NEVER_REUSED
from orqo.models.base import utcnow

DELIVERY_OUTCOMES = ("accepted", "challenge", "rejected_signature", "malformed", "adapter_error",
                     "unsigned")
MESSAGE_OUTCOMES = ("routed", "no_route", "duplicate", "unknown_sender", "throttled", "ignored",
                    "outbound")
#: Which way a message went: received from a platform, or sent by an agent through one.
DIRECTIONS = ("inbound", "outbound")


class Delivery(db.Model):
    """The ledger's record of one webhook delivery: what came in (headers with secrets redacted,
    the body up to ``LEDGER_BODY_BYTES``) and what orqo answered."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_app_id_id", "app_id", "id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    method: Mapped[str] = mapped_column(String(8))
    # The sender's address as orqo sees it (the proxies' X-Forwarded-For, per PROXY_COUNT).
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    status_code: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    # NULL for deliveries received before orqo kept them.
    headers: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The body's full size in bytes (``body`` may hold only its first LEDGER_BODY_BYTES).
    body_bytes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    messages: Mapped[list[MessageRecord]] = relationship(
        back_populates="delivery", order_by="MessageRecord.id"
    )


class MessageRecord(db.Model):
    """The ledger's record of one normalised message of a delivery, and what became of it; or
    of one message an agent sent (``direction`` ``outbound``, no delivery, its sending in
    :class:`orqo.models.Send`).

    ``claimed`` marks the one message of an (App, dedupe key) that was taken for routing
    (``routed`` or ``no_route``): a partial unique index allows one claimed row per key, which
    is what makes routing happen exactly once however many copies race in however many workers
    and hosts. Duplicates, unknown senders and throttled messages are stored unclaimed.
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index("uq_messages_claim", "app_id", "dedupe_key", unique=True,
              sqlite_where=sql_text("claimed"), postgresql_where=sql_text("claimed")),
        # A Contact's recent messages (the per-sender limit), and ON DELETE SET NULL.
        Index("ix_messages_contact_created", "contact_id", "created_at"),
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True, nullable=True
    )
    app_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8), default="inbound",
                                           server_default="inbound")
    platform: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(512))
    platform_message_id: Mapped[str] = mapped_column(String(512))
    sender_id: Mapped[str] = mapped_column(String(512))
    sender_name: Mapped[str | None] = mapped_column(String(512), nullable=True)
    chat_id: Mapped[str] = mapped_column(String(512))
    thread_id: Mapped[str | None] = mapped_column(String(512), nullable=True)
    # The platform id of the message this one answers (Message.reply_to).
    reply_to: Mapped[str | None] = mapped_column(String(512), nullable=True)
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
    claimed: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    handler: Mapped[str | None] = mapped_column(String(64), nullable=True)
    handler_ref: Mapped[str | None] = mapped_column(String(128), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivery: Mapped[Delivery | None] = relationship(back_populates="messages")

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
            reply_to=message.reply_to,
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
            reply_to=self.reply_to,
            sender_name=self.sender_name,
            kind=self.kind,
            action_id=self.action_id,
            action_value=self.action_value,
            attachments=[Attachment(**item) for item in self.attachments or ()],
            extra=self.extra or {},
        )


class Rejection(db.Model):
    """How many deliveries one source sent one App in one window that were not proven genuine
    (:mod:`orqo.rejections`): counted here, not stored one by one, so a flood cannot grow the
    database. ``source`` is the sender's address, or ``other`` past ``REJECTION_SOURCES``."""

    __tablename__ = "rejections"

    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"),
                                        primary_key=True)
    # The window's start, in seconds since the epoch (a multiple of REJECTION_WINDOW_SECONDS).
    window_start: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigId)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int] = mapped_column(Integer)
    last_reason: Mapped[str] = mapped_column(Text, default="")
