"""Reading the ledger: deliveries and what became of each of their messages."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from orqo.extensions import db
from orqo.models import Delivery
from orqo.models import MessageRecord
from orqo.models import as_utc


def list_deliveries(app_id: str | None = None, limit: int = 50) -> list[Delivery]:
    """The newest deliveries first, optionally of one App, with their messages loaded."""
    query = select(Delivery).options(selectinload(Delivery.messages))
    if app_id:
        query = query.where(Delivery.app_id == app_id)
    return list(db.session.scalars(query.order_by(Delivery.id.desc()).limit(limit)))


def describe_message(record: MessageRecord) -> dict:
    """One ledger message: its outcome and enough of it to find it again."""
    return {
        "id": record.id,
        "outcome": record.outcome,
        "reason": record.reason,
        "handler": record.handler,
        "handler_ref": record.handler_ref,
        "dedupe_key": record.dedupe_key,
        "contact_id": record.contact_id,
        "sender_id": record.sender_id,
        "kind": record.kind,
    }


def describe_delivery(delivery: Delivery) -> dict:
    """One delivery with its messages (its body is never stored, so never shown)."""
    return {
        "id": delivery.id,
        "app_id": delivery.app_id,
        "received_at": as_utc(delivery.received_at).isoformat(),
        "method": delivery.method,
        "outcome": delivery.outcome,
        "reason": delivery.reason,
        "status_code": delivery.status_code,
        "duration_ms": round(delivery.duration_ms, 3),
        "meta": delivery.meta or {},
        "messages": [describe_message(record) for record in delivery.messages],
    }
