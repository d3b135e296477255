"""The waitbox handler: an agent waiting for a Contact's answer takes the next message.

Matching: same App and Contact, not expired; a waitbox bound to a thread takes only replies in
that thread; an exact thread match wins over a thread-less waitbox, then the oldest wins. Each
waitbox takes exactly one message: the conditional UPDATE below succeeds for one transaction
only, however many workers race for it (on PostgreSQL the loser waits for the winner's commit,
then finds the status changed; SQLite serialises writers).
"""
from __future__ import annotations

from sqlalchemy import case
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update

from orqo import hookimpl
from orqo.extensions import db
from orqo.handlers import Route
from orqo.models import Waitbox
from orqo.models import utcnow


def _candidates(app_id: str, contact_id: int, thread_id: str | None, now):
    query = select(Waitbox.id).where(
        Waitbox.app_id == app_id,
        Waitbox.contact_id == contact_id,
        Waitbox.status == "waiting",
        Waitbox.expires_at > now,
    )
    if thread_id is None:
        query = query.where(Waitbox.thread_id.is_(None))
    else:
        query = query.where(or_(Waitbox.thread_id.is_(None), Waitbox.thread_id == thread_id))
    exact_first = case((Waitbox.thread_id.is_(None), 1), else_=0)
    return query.order_by(exact_first, Waitbox.created_at, Waitbox.id)


@hookimpl(tryfirst=True)
def route_message(app, message, record, contact_id):
    """Answer the best-matching open waitbox with this message, if there is one."""
    now = utcnow()
    for waitbox_id in db.session.scalars(
        _candidates(record.app_id, contact_id, message.thread_id, now)
    ).all():
        taken = db.session.execute(
            update(Waitbox.__table__)
            .where(Waitbox.id == waitbox_id, Waitbox.status == "waiting", Waitbox.expires_at > now)
            .values(status="answered", message_id=record.id, answered_at=now)
            .returning(Waitbox.reference)
        ).first()
        if taken is not None:
            return Route(handler="waitbox", ref=str(waitbox_id),
                         details={"waitbox_id": waitbox_id, "reference": taken.reference})
    return None
