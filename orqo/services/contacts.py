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


def find_contact(contact_id: int) -> Contact:
    """The Contact with this id; 404 when there is none."""
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise ApiError(404, "not_found", f"No Contact has the id {contact_id}.")
    return contact


def contacts_query(app_id: str | None = None):
    """Contacts, optionally only those with a Channel on ``app_id`` (for pagination)."""
    query = select(Contact)
    if app_id:
        query = query.where(Contact.id.in_(select(ContactChannel.contact_id)
                                           .where(ContactChannel.app_id == app_id)))
    return query


def update_contact(contact_id: int, changes: dict) -> Contact:
    """Rename a Contact and/or replace its Channels (``{app_id: sender_id}``), same rules."""
    contact = find_contact(contact_id)
    if "name" in changes:
        if not changes["name"].strip():
            raise ApiError(422, "validation_error", "The Contact is not valid.",
                           {"name": ["A name of 1 to 200 characters is required."]})
        contact.name = changes["name"].strip()
    if "channels" in changes:
        channels = changes["channels"]
        known = set(db.session.scalars(select(App.id).where(App.id.in_(list(channels)))))
        unknown = [f"No App has the id {app_id!r}." for app_id in channels if app_id not in known]
        if unknown:
            raise ApiError(422, "validation_error", "The Contact is not valid.",
                           {"channels": unknown})
        taken = [c for app_id, sender_id in channels.items() for c in db.session.scalars(
            select(ContactChannel).filter_by(app_id=app_id, sender_id=sender_id))
            if c.contact_id != contact.id]
        if taken:
            raise ApiError(409, "conflict", "A sender id already belongs to another Contact.",
                           {"channels": [f"{c.sender_id!r} on App {c.app_id!r} is Contact "
                                         f"{c.contact_id}" for c in taken]})
        contact.channels = []
        db.session.flush()
        contact.channels = [ContactChannel(app_id=a, sender_id=s) for a, s in channels.items()]
    db.session.commit()
    return contact


def delete_contact(contact_id: int) -> None:
    """Delete a Contact and its Channels; its ledger rows keep their history."""
    db.session.delete(find_contact(contact_id))
    db.session.commit()
