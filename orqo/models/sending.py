"""The send queue: each message an agent sends through a platform, until it is sent."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy import Float
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship
from sqlalchemy.orm import synonym

from orqo.extensions import db
from orqo.models.base import BigId
from orqo.models.base import NEVER_REUSED
from orqo.models.base import utcnow

#: ``queued`` (waiting for ``orqo worker``, or for its next attempt), ``sent``, ``failed``.
SEND_STATUSES = ("queued", "sent", "failed")


class Send(db.Model):
    """The sending of one outbound message (:class:`orqo.models.MessageRecord` with
    ``direction`` ``outbound``): written with it by ``POST /api/v1/messages``, leased to one
    ``orqo worker`` at a time (``lease_until``), sent in order per chat (``pace_key``) and
    no faster than the adapter's ``send_interval`` (``pace_until`` of the last one sent)."""

    __tablename__ = "sends"
    __table_args__ = (
        Index("ix_sends_due", "status", "next_attempt_at"),
        Index("ix_sends_chat", "app_id", "pace_key", "status"),
    )

    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True,
        autoincrement=False)
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    # The Contact's sender id on the App, and the chat the sends are ordered and paced in.
    recipient: Mapped[str] = mapped_column(String(512))
    pace_key: Mapped[str] = mapped_column(String(512))
    in_reply_to: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True, index=True)
    waitbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("waitboxes.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    pace_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The name every leased queue's rows are known by (orqo.services.leasing).
    id = synonym("message_id")
    attempt_log: Mapped[list[SendAttempt]] = relationship(
        order_by="SendAttempt.id", cascade="all, delete-orphan", passive_deletes=True)


#: What one attempt became: ``sent``; ``retry`` (a later attempt will follow); ``failed``.
ATTEMPT_RESULTS = ("sent", "retry", "failed")


class SendAttempt(db.Model):
    """One attempt at sending an outbound message through its platform, and how it ended."""

    __tablename__ = "send_attempts"
    __table_args__ = (NEVER_REUSED,)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("sends.message_id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    result: Mapped[str] = mapped_column(String(8))
    # The platform's (or orqo's) reason for a retry or a failure; empty when sent.
    error: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
