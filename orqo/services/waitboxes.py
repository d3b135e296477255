"""Opening and reading waitboxes (the agent side of the waitbox handler)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy import update

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import App
from orqo.models import ContactChannel
from orqo.models import MessageRecord
from orqo.models import Waitbox
from orqo.models import as_utc
from orqo.models import utcnow
from orqo.services.conversations import describe_routed_message


def open_waitbox(app_id: str, contact_id: int, expires_in: float, thread_id: str | None = None,
                 reference: str = "") -> Waitbox:
    """Open a waitbox for the next message from ``contact_id`` on ``app_id``.

    422 when the App is unknown, the Contact has no Channel on it, or ``expires_in`` is not
    positive.
    """
    errors = {}
    if not isinstance(contact_id, int) or isinstance(contact_id, bool):
        errors["contact_id"] = ["Must be an integer."]
    elif db.session.get(App, app_id) is None:
        errors["app_id"] = [f"No App has the id {app_id!r}."]
    elif db.session.query(ContactChannel).filter_by(app_id=app_id, contact_id=contact_id).first() is None:
        errors["contact_id"] = [f"Contact {contact_id} has no Channel on App {app_id!r}."]
    if not expires_in or expires_in <= 0:
        errors["expires_in"] = ["Must be a positive number of seconds."]
    if errors:
        raise ApiError(422, "validation_error", "The waitbox is not valid.", errors)
    waitbox = Waitbox(app_id=app_id, contact_id=contact_id, thread_id=thread_id,
                      reference=reference, expires_at=utcnow() + timedelta(seconds=expires_in))
    db.session.add(waitbox)
    db.session.commit()
    return waitbox


#: What a waitbox can be (``expired``: still ``waiting`` in its row, past ``expires_at``).
WAITBOX_STATUSES = ("waiting", "answered", "expired", "cancelled")


def waitboxes_query(app_id: str | None = None, contact_id: int | None = None,
                    status: str | None = None):
    """Waitboxes (for pagination), optionally of one App and/or Contact and in one of
    :data:`WAITBOX_STATUSES` (as :func:`waitbox_status` tells it); 422 for another status."""
    query = select(Waitbox)
    if app_id:
        query = query.where(Waitbox.app_id == app_id)
    if contact_id is not None:
        query = query.where(Waitbox.contact_id == contact_id)
    if status:
        if status not in WAITBOX_STATUSES:
            raise ApiError(422, "validation_error", "The request is not valid.",
                           {"status": [f"Must be one of {', '.join(WAITBOX_STATUSES)}."]})
        now = utcnow()
        if status == "waiting":
            query = query.where(Waitbox.status == "waiting", Waitbox.expires_at > now)
        elif status == "expired":
            query = query.where(Waitbox.status == "waiting", Waitbox.expires_at <= now)
        else:
            query = query.where(Waitbox.status == status)
    return query


def find_waitbox(waitbox_id: int) -> Waitbox:
    """The waitbox with this id; 404 when there is none."""
    waitbox = db.session.get(Waitbox, waitbox_id)
    if waitbox is None:
        raise ApiError(404, "not_found", f"No waitbox has the id {waitbox_id}.")
    return waitbox


def cancel_waitbox(waitbox_id: int) -> Waitbox:
    """Cancel a waiting waitbox; 409 when it was answered, expired or cancelled already.

    The conditional UPDATE races safely with a reply being routed: one of them wins.
    """
    now = utcnow()
    cancelled = db.session.execute(
        update(Waitbox.__table__)
        .where(Waitbox.id == waitbox_id, Waitbox.status == "waiting", Waitbox.expires_at > now)
        .values(status="cancelled").returning(Waitbox.id)
    ).first()
    db.session.commit()
    waitbox = find_waitbox(waitbox_id)
    if cancelled is None:
        raise ApiError(409, "conflict", f"Waitbox {waitbox_id} is {waitbox_status(waitbox)}, "
                       "not waiting.")
    return waitbox


def waitbox_status(waitbox: Waitbox) -> str:
    """``waiting``, ``answered``, ``expired`` or ``cancelled``."""
    if waitbox.status == "waiting" and as_utc(waitbox.expires_at) <= utcnow():
        return "expired"
    return waitbox.status


def describe_waitbox(waitbox: Waitbox) -> dict:
    """A waitbox as agents see it."""
    return {
        "id": waitbox.id,
        "app_id": waitbox.app_id,
        "contact_id": waitbox.contact_id,
        "thread_id": waitbox.thread_id,
        "reference": waitbox.reference,
        "question_id": waitbox.question_id,
        "reply_key": waitbox.reply_key,
        "status": waitbox_status(waitbox),
        "message_id": waitbox.message_id,
        "message": (describe_routed_message(db.session.get(MessageRecord, waitbox.message_id))
                    if waitbox.message_id else None),
        "expires_at": as_utc(waitbox.expires_at).isoformat(),
    }
