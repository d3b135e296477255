"""One message's way in: contact gate, dedupe, route. Shared by the webhook pipeline and by
replays of stored messages, so both follow exactly the same rules."""
from __future__ import annotations

from flask import current_app
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
    app = current_app._get_current_object()
    route = route_message(app.extensions["orqo"].pm, app, message, record, contact_id)
    record.outcome = route.outcome
    record.handler = route.handler
    record.handler_ref = route.ref
    if route.outcome == "routed":
        push.enqueue(record, route)
    return record
