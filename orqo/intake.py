"""One message's way in: contact gate, per-sender limit, dedupe, route. Shared by the webhook pipeline and by
replays of stored messages, so both follow exactly the same rules."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import delete
from sqlalchemy import select

from orqo.dispatch import route_message
from orqo.extensions import db
from orqo.extensions import insert_or_ignore
from orqo.messages import Message
from orqo.models import ContactChannel
from orqo.models import DedupeClaim
from orqo.models import Delivery
from orqo.models import MessageRecord
from orqo.services import push
from orqo.services import rate_limits


def admit(app_id: str, delivery: Delivery, message: Message) -> MessageRecord:
    """Record ``message`` under ``delivery``, gate it, dedupe it and route it.

    Runs inside the caller's transaction; the caller commits. Raises
    :class:`orqo.dispatch.RoutingError` when no handler took a new message.
    """
    contact_id = db.session.scalar(
        select(ContactChannel.contact_id).where(ContactChannel.app_id == app_id,
                                                ContactChannel.sender_id == message.sender_id)
    )
    record = MessageRecord.from_message(
        message, delivery=delivery, app_id=app_id, contact_id=contact_id,
        outcome="routed",  # tentative: the transaction commits only with the final outcome
    )
    db.session.add(record)
    if contact_id is None:
        record.outcome = "unknown_sender"
        record.reason = "the sender is not a registered Contact of this App"
        return record
    db.session.flush()
    if not insert_or_ignore(DedupeClaim, app_id=app_id, dedupe_key=message.dedupe_key,
                            message_id=record.id):
        record.outcome = "duplicate"
        record.reason = "already received"
        return record
    limit = current_app.config["SENDER_RATE_LIMIT"]
    if limit and rate_limits.count(f"sender:{app_id}:{contact_id}", 60)[0] > limit:
        # Answered 2xx all the same (a 4xx makes platforms retry or disable the App). The
        # claim is released so that a replay can route the message once the flood is over.
        db.session.execute(delete(DedupeClaim).filter_by(app_id=app_id,
                                                         dedupe_key=message.dedupe_key))
        record.outcome = "throttled"
        record.reason = f"the Contact sent more than {limit} new messages in a minute"
        return record
    app = current_app._get_current_object()
    route = route_message(app.extensions["orqo"].pm, app, message, record, contact_id)
    record.outcome = route.outcome
    record.handler = route.handler
    record.handler_ref = route.ref
    if route.outcome == "routed":
        push.enqueue(record, route)
    return record
