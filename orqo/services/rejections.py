"""Reading the counts of refused deliveries (:mod:`orqo.rejections` writes them)."""
from __future__ import annotations

from datetime import datetime
from datetime import timezone

from sqlalchemy import select

from orqo.extensions import db
from orqo.models import Rejection
from orqo.models import as_utc


def list_rejections(app_id: str | None = None, since: datetime | None = None,
                    limit: int = 50) -> list[dict]:
    """The counts of refused deliveries, newest window first, optionally of one App and
    from windows that end after ``since``."""
    query = select(Rejection)
    if app_id:
        query = query.where(Rejection.app_id == app_id)
    if since is not None:
        query = query.where(Rejection.last_at >= since)
    query = query.order_by(Rejection.window_start.desc(), Rejection.count.desc(),
                           Rejection.app_id, Rejection.outcome, Rejection.source)
    return [describe_rejection(row) for row in db.session.scalars(query.limit(limit))]


def describe_rejection(row: Rejection) -> dict:
    """One count as the API and the CLI show it."""
    return {
        "app_id": row.app_id,
        "window_start": datetime.fromtimestamp(row.window_start, timezone.utc).isoformat(),
        "outcome": row.outcome,
        "source": row.source,
        "count": row.count,
        "first_at": as_utc(row.first_at).isoformat(),
        "last_at": as_utc(row.last_at).isoformat(),
        "last_status": row.last_status,
        "last_reason": row.last_reason,
    }
