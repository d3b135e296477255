"""Workflows, their runs and what starts them: webhook triggers (token URLs) and App Event
triggers; plus the idempotency keys and rate-limit counters of the trigger endpoints."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column

from orqo.extensions import db
from orqo.models.base import BigId
from orqo.models.base import NEVER_REUSED
from orqo.models.base import utcnow

RUN_STATUSES = ("queued", "started", "succeeded", "failed")


class Workflow(db.Model):
    """A workflow that external systems may start."""

    __tablename__ = "workflows"
    __table_args__ = (NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class WorkflowRun(db.Model):
    """One run of a workflow: how it was triggered, its input, and its progress.

    The executor claims queued runs with a lease (``claim_token``, ``lease_until``) and reports
    ``started``, ``succeeded`` or ``failed``; a run whose lease ran out is claimable again.
    """

    __tablename__ = "workflow_runs"
    __table_args__ = (Index("ix_workflow_runs_queue", "status", "lease_until", "id"), NEVER_REUSED)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"),
                                             index=True)
    trigger_kind: Mapped[str] = mapped_column(String(16))  # webhook, api, app_event
    trigger_ref: Mapped[str] = mapped_column(String(64), default="")
    input: Mapped[object] = mapped_column(JSON, nullable=True)
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    claim_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    output: Mapped[object] = mapped_column(JSON, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookTrigger(db.Model):
    """A token URL that starts runs of one workflow; the token is stored only as its hash.

    During a rotation the replaced token's hash is kept in ``previous_token_hash`` and works
    until ``previous_valid_until``.
    """

    __tablename__ = "webhook_triggers"
    __table_args__ = (NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    previous_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True,
                                                            nullable=True)
    previous_valid_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True),
                                                                  nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AppEventTrigger(db.Model):
    """Starts a run for each message of an App (with Doorkeeper off) that its filter matches.

    ``filter`` holds ``platform``, ``sender_id`` and ``text_pattern`` (a regular expression),
    each optional; all given must match.
    """

    __tablename__ = "app_event_triggers"
    __table_args__ = (NEVER_REUSED,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workflow_id: Mapped[int] = mapped_column(ForeignKey("workflows.id", ondelete="CASCADE"))
    app_id: Mapped[str] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    filter: Mapped[dict] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IdempotencyRecord(db.Model):
    """The first answer given for an ``Idempotency-Key`` within one caller's scope."""

    __tablename__ = "idempotency_records"

    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    status_code: Mapped[int] = mapped_column(Integer, default=0)
    response: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RateCounter(db.Model):
    """Requests counted for one caller in one fixed window (shared by every worker and host)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigId, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
