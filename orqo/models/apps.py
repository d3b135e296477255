"""Apps, Contacts and their Channels."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import UniqueConstraint
from sqlalchemy import true as sql_true
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from orqo.extensions import db
from orqo.models.base import new_app_id
from orqo.models.base import NEVER_REUSED
from orqo.models.base import utcnow


class App(db.Model):
    """An App: one platform account whose webhooks orqo receives, served by one adapter."""

    __tablename__ = "apps"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_app_id)
    name: Mapped[str] = mapped_column(String(200))
    adapter: Mapped[str] = mapped_column(String(40))
    credentials: Mapped[dict] = mapped_column(JSON, default=dict)
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    # Off: messages no waitbox takes go to the workflows' App Event triggers instead.
    route_to_doorkeeper: Mapped[bool] = mapped_column(Boolean, default=True)
    # During a secret rotation: the credentials replaced, still accepted until the stated time.
    previous_credentials: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    previous_credentials_until: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    # Off: the App keeps its settings and ledger, and its deliveries are refused (403).
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sql_true())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Contact(db.Model):
    """A person or service orqo accepts messages from."""

    __tablename__ = "contacts"
    __table_args__ = (NEVER_REUSED,)

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
        NEVER_REUSED,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"))
    sender_id: Mapped[str] = mapped_column(String(512))
    contact: Mapped[Contact] = relationship(back_populates="channels")


class Revision(db.Model):
    """A counter per kind of row that workers cache (``apps``): every change to such a row
    raises it in the same transaction, so each worker, on any host, sees that its copy is old
    (:mod:`orqo.app_cache`)."""

    __tablename__ = "revisions"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
