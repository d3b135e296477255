"""Reading the ledger: deliveries and what became of each of their messages."""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import defer
from sqlalchemy.orm import selectinload

from orqo.carried import body_truncated
from orqo.errors import ApiError
from orqo.extensions import db
from orqo.intake import admit
from orqo.models import Delivery
from orqo.models import MessageRecord
from orqo.models import as_utc
from orqo.models import utcnow

# A no_route message holds its dedupe claim (redeliveries stay duplicates), so only messages
# that never reached routing can be replayed.
REPLAYABLE = ("unknown_sender", "throttled")


def deliveries_query(app_id=None, outcome=None, since=None, until=None):
    """Deliveries with their messages, filtered by App, outcome and receipt time; without
    their headers and bodies, which only :func:`find_delivery` loads (listings stay small)."""
    query = select(Delivery).options(selectinload(Delivery.messages),
                                     defer(Delivery.headers), defer(Delivery.body))
    if app_id:
        query = query.where(Delivery.app_id == app_id)
    if outcome:
        query = query.where(Delivery.outcome == outcome)
    if since is not None:
        query = query.where(Delivery.received_at >= since)
    if until is not None:
        query = query.where(Delivery.received_at < until)
    return query


def list_deliveries(app_id: str | None = None, limit: int = 50, outcome: str | None = None,
                    since: datetime | None = None, until: datetime | None = None
                    ) -> list[Delivery]:
    """The newest deliveries first, filtered as :func:`deliveries_query`, with their
    messages loaded."""
    query = deliveries_query(app_id, outcome, since, until)
    return list(db.session.scalars(query.order_by(Delivery.id.desc()).limit(limit)))


def arrived(after_id: int, missing=(), limit: int = 200) -> list[int]:
    """The ids, ascending, of the deliveries now visible after ``after_id`` (at most
    ``limit``) and of those among ``missing`` (ids passed over earlier) now visible: what
    following the ledger (``orqo deliveries tail``) looks at next.

    Ids are handed out when a delivery's transaction starts and seen when it commits, so on
    PostgreSQL id 7 can become visible after id 8: a follower keeps the ids it passed over as
    ``missing`` for a while (a transaction ends within the request's timeout) and asks again.
    """
    seen = Delivery.id > after_id
    if missing:
        seen = or_(seen, Delivery.id.in_(list(missing)))
    return list(db.session.scalars(select(Delivery.id).where(seen).order_by(Delivery.id)
                                   .limit(limit)))


def deliveries_among(ids: list[int], app_id: str | None = None,
                     outcome: str | None = None) -> list[Delivery]:
    """The deliveries with these ids that pass the filters of :func:`deliveries_query`, in
    id order."""
    if not ids:
        return []
    query = deliveries_query(app_id, outcome).where(Delivery.id.in_(ids))
    return list(db.session.scalars(query.order_by(Delivery.id)))


def newest_delivery_id() -> int:
    """The id of the newest delivery recorded (0: none yet)."""
    return db.session.scalar(select(func.max(Delivery.id))) or 0


def find_delivery(delivery_id: int) -> Delivery:
    """One delivery; 404 when there is none."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None:
        raise ApiError(404, "not_found", f"No delivery has the id {delivery_id}.")
    return delivery


def replay(message_id: int) -> tuple[Delivery, MessageRecord]:
    """Route a stored message again through the contact gate and routing.

    For a message recorded ``unknown_sender`` whose sender has since been registered, or
    ``throttled``. The replay is recorded as a delivery of its own (method ``REPLAY``,
    ``meta.replay_of``) through the webhook path's own :func:`orqo.intake.admit`; the dedupe
    claim makes sure a message is never routed twice: replaying a message that was routed (by
    the original delivery or an earlier replay) is 409, and nothing is recorded.
    """
    original = db.session.get(MessageRecord, message_id)
    if original is None:
        raise ApiError(404, "not_found", f"No message has the id {message_id}.")
    if original.outcome not in REPLAYABLE:
        raise ApiError(409, "conflict", f"Message {message_id} was {original.outcome}; only "
                       f"{' or '.join(REPLAYABLE)} messages can be replayed.")
    message, app_id = original.to_message(), original.app_id
    db.session.rollback()  # the webhook path writes on its own connection
    pipeline = current_app.extensions["orqo.pipeline"]
    app = pipeline.apps.get(app_id)
    now = utcnow()
    delivery = {"app_id": app_id, "received_at": now, "method": "REPLAY", "client_address": None,
                "outcome": "accepted", "reason": "replay", "status_code": 200,
                "duration_ms": 0.0, "meta": {"replay_of": message_id}}
    admitted = admit(pipeline, current_app._get_current_object(), app, delivery, message, now,
                     keep_duplicates=False)
    if admitted is None:
        raise ApiError(409, "conflict", f"Message {message_id} was routed already.")
    return (db.session.get(Delivery, admitted.written.delivery_id),
            db.session.get(MessageRecord, admitted.written.message_id))


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


def describe_delivery(delivery: Delivery, carried: bool = False) -> dict:
    """One delivery with its messages; with what it ``carried`` (its redacted headers, its
    body as kept, the body's full size and whether the body kept is only its start) for the
    view of one delivery. Listings leave those out (:func:`deliveries_query` does not load
    them): a page of bodies would be large."""
    described = {
        "id": delivery.id,
        "app_id": delivery.app_id,
        "received_at": as_utc(delivery.received_at).isoformat(),
        "method": delivery.method,
        "client_address": delivery.client_address,
        "outcome": delivery.outcome,
        "reason": delivery.reason,
        "status_code": delivery.status_code,
        "duration_ms": round(delivery.duration_ms, 3),
        "meta": delivery.meta or {},
        "messages": [describe_message(record) for record in delivery.messages],
    }
    if carried:
        described.update(headers=delivery.headers, body=delivery.body,
                         body_bytes=delivery.body_bytes,
                         body_truncated=body_truncated(delivery.body, delivery.body_bytes))
    return described


def describe_replay(delivery: Delivery, record: MessageRecord, replay_of: int) -> dict:
    """What :func:`replay` made: the new delivery's id, the message it routed, and the id of
    the stored message it replayed."""
    return {"delivery_id": delivery.id, "replay_of": replay_of,
            "message": describe_message(record)}
