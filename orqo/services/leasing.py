"""Leasing rows of a work queue to one claimant at a time: Doorkeeper's messages, workflow
runs and the push outbox all use this one mechanism.

A claim selects the oldest claimable rows and marks them leased in the same transaction. On
PostgreSQL the SELECT locks them ``FOR UPDATE SKIP LOCKED``, so concurrent claimants (in other
workers or hosts) skip rows another is taking instead of waiting or taking them twice; SQLite
serialises writers (orqo begins every SQLite transaction with ``BEGIN IMMEDIATE``). A row whose
lease ran out without being finished is claimable again.
"""
from __future__ import annotations

import secrets
from datetime import datetime
from datetime import timedelta

from sqlalchemy import and_
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from orqo.extensions import db
from orqo.models import utcnow


def lease_expired(model, now: datetime, leased_statuses: tuple[str, ...]):
    """The condition "leased, but the lease ran out" for ``model``."""
    return and_(model.status.in_(leased_statuses), model.lease_until < now)


def lease_rows(model, *, ready, order_by, limit: int, lease_seconds: float,
               values: dict | None = None) -> tuple[list[int], str, datetime]:
    """Lease up to ``limit`` rows of ``model`` matching ``ready`` (a condition or a list).

    Sets ``lease_until`` (and ``claim_token`` when the model has one) plus ``values``; returns
    ``(ids, claim_token, lease_until)``. The caller commits.
    """
    now = utcnow()
    lease_until = now + timedelta(seconds=lease_seconds)
    token = secrets.token_urlsafe(24)
    conditions = ready if isinstance(ready, (list, tuple)) else [ready]
    ids = list(db.session.scalars(
        select(model.id).where(*conditions).order_by(*order_by).limit(limit)
        .with_for_update(skip_locked=True)
    ))
    if ids:
        changes = {"lease_until": lease_until, **(values or {})}
        if hasattr(model, "claim_token"):
            changes["claim_token"] = token
        db.session.execute(update(model.__table__).where(model.id.in_(ids)).values(**changes))
    return ids, token, lease_until


def queued_or_lease_expired(model, now: datetime, leased_statuses=("claimed",)):
    """The usual "claimable" condition: queued, or leased with its lease run out."""
    return or_(model.status == "queued", lease_expired(model, now, leased_statuses))
