"""Creating Contacts and their Channels."""
from __future__ import annotations

from sqlalchemy import select

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import App
from orqo.models import Contact
from orqo.models import ContactChannel
from orqo.models import as_utc


def create_contact(name: str, channels: dict[str, str]) -> Contact:
    """Save a Contact with one Channel per App (``{app_id: sender_id}``).

    422 when a name is missing, an App does not exist or a sender id is empty; 409 when a
    sender id already belongs to another Contact on that App.
    """
    errors = {}
    if not name or not name.strip() or len(name) > 200:
        errors["name"] = ["A name of 1 to 200 characters is required."]
    known = set(db.session.scalars(select(App.id).where(App.id.in_(list(channels)))))
    for app_id, sender_id in channels.items():
        if app_id not in known:
            errors.setdefault("channels", []).append(f"No App has the id {app_id!r}.")
        elif not sender_id or len(sender_id) > 512:
            errors.setdefault("channels", []).append(f"The sender id for App {app_id!r} "
                                                     "must be 1 to 512 characters.")
    if errors:
        raise ApiError(422, "validation_error", "The Contact is not valid.", errors)
    taken = [
        channel
        for app_id, sender_id in channels.items()
        for channel in db.session.scalars(
            select(ContactChannel).filter_by(app_id=app_id, sender_id=sender_id)
        )
    ]
    if taken:
        clashes = [f"{c.sender_id!r} on App {c.app_id!r} is Contact {c.contact_id}" for c in taken]
        raise ApiError(409, "conflict", "A sender id already belongs to another Contact.",
                       {"channels": clashes})
    contact = Contact(name=name.strip())
    contact.channels = [
        ContactChannel(app_id=app_id, sender_id=sender_id) for app_id, sender_id in channels.items()
    ]
    db.session.add(contact)
    db.session.commit()
    return contact


def describe_contact(contact: Contact) -> dict:
    """A Contact with its Channels."""
    return {
        "id": contact.id,
        "name": contact.name,
        "channels": [
            {"app_id": channel.app_id, "sender_id": channel.sender_id}
            for channel in contact.channels
        ],
        "created_at": as_utc(contact.created_at).isoformat(),
    }
