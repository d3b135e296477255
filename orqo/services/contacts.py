"""Contacts and their Channels: creating, finding, searching, changing, deleting."""
from __future__ import annotations

from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import App
from orqo.models import Contact
from orqo.models import ContactChannel
from orqo.models import as_utc


def create_contact(name: str, channels: dict[str, str]) -> Contact:
    """Save a Contact with one Channel per App (``{app_id: sender_id}``).

    422 when a name is missing, an App does not exist or a sender id is empty; 409 when a
    sender id already belongs to another Contact on that App, also when another request took
    it at the same moment (never a 5xx).
    """
    errors = {}
    if not name or not name.strip() or len(name) > 200:
        errors["name"] = ["A name of 1 to 200 characters is required."]
    errors.update(_channel_errors(channels, check_sender_ids=True))
    if errors:
        raise ApiError(422, "validation_error", "The Contact is not valid.", errors)
    _refuse_taken(channels)
    contact = Contact(name=name.strip())
    contact.channels = [
        ContactChannel(app_id=app_id, sender_id=sender_id) for app_id, sender_id in channels.items()
    ]
    db.session.add(contact)
    _commit_channels(channels)
    return contact


def _channel_errors(channels: dict[str, str], check_sender_ids: bool) -> dict:
    """``{"channels": [...]}`` naming Apps that do not exist (and bad sender ids), or ``{}``."""
    known = set(db.session.scalars(select(App.id).where(App.id.in_(list(channels)))))
    problems = []
    for app_id, sender_id in channels.items():
        if app_id not in known:
            problems.append(f"No App has the id {app_id!r}.")
        elif check_sender_ids and (not sender_id or len(sender_id) > 512):
            problems.append(f"The sender id for App {app_id!r} must be 1 to 512 characters.")
    return {"channels": problems} if problems else {}


def _refuse_taken(channels: dict[str, str], contact_id: int | None = None) -> None:
    """409 when a sender id of ``channels`` belongs to a Contact other than ``contact_id``."""
    taken = [c for app_id, sender_id in channels.items() for c in db.session.scalars(
        select(ContactChannel).filter_by(app_id=app_id, sender_id=sender_id))
        if c.contact_id != contact_id]
    if taken:
        raise ApiError(409, "conflict", "A sender id already belongs to another Contact.",
                       {"channels": [f"{c.sender_id!r} on App {c.app_id!r} is Contact "
                                     f"{c.contact_id}" for c in taken]})


def _commit_channels(channels: dict[str, str], contact_id: int | None = None) -> None:
    """Commit a Contact's Channels. When a concurrent request took a sender id (or deleted an
    App) between the checks and this commit, the database refuses the row: answer exactly
    what the checks would answer now (409, or 422 for an App that is gone), not a 500."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        errors = _channel_errors(channels, check_sender_ids=False)
        if errors:
            raise ApiError(422, "validation_error", "The Contact is not valid.", errors) from None
        _refuse_taken(channels, contact_id)
        raise ApiError(409, "conflict", "The Contact was changed by another request at the "
                       "same time; read it again and retry.") from None


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


def contact_names(contact_ids) -> dict[int, str]:
    """``{id: name}`` of the Contacts among ``contact_ids`` that exist (for a list's labels)."""
    ids = {i for i in contact_ids if i is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(Contact.id, Contact.name).where(Contact.id.in_(ids)))
    return dict(rows.all())


def find_contact(contact_id: int) -> Contact:
    """The Contact with this id; 404 when there is none."""
    contact = db.session.get(Contact, contact_id)
    if contact is None:
        raise ApiError(404, "not_found", f"No Contact has the id {contact_id}.")
    return contact


def contacts_query(app_id: str | None = None, search: str | None = None):
    """Contacts (for pagination), optionally only those with a Channel on ``app_id``, and
    only those whose name contains ``search`` (ignoring case) or with a Channel whose sender
    id contains it (exactly as written: sender ids are case-sensitive)."""
    query = select(Contact)
    if app_id:
        query = query.where(Contact.id.in_(select(ContactChannel.contact_id)
                                           .where(ContactChannel.app_id == app_id)))
    search = (search or "").strip()
    if search:
        query = query.where(or_(
            Contact.name.icontains(search, autoescape=True),
            Contact.id.in_(select(ContactChannel.contact_id).where(
                ContactChannel.sender_id.contains(search, autoescape=True)))))
    return query


def update_contact(contact_id: int, changes: dict) -> Contact:
    """Rename a Contact and/or replace its Channels (``{app_id: sender_id}``), same rules."""
    contact = find_contact(contact_id)
    if "name" in changes:
        if not changes["name"].strip() or len(changes["name"]) > 200:
            raise ApiError(422, "validation_error", "The Contact is not valid.",
                           {"name": ["A name of 1 to 200 characters is required."]})
        contact.name = changes["name"].strip()
    if "channels" in changes:
        channels = changes["channels"]
        errors = _channel_errors(channels, check_sender_ids=True)
        if errors:
            raise ApiError(422, "validation_error", "The Contact is not valid.", errors)
        _refuse_taken(channels, contact.id)
        contact.channels = []
        db.session.flush()
        contact.channels = [ContactChannel(app_id=a, sender_id=s) for a, s in channels.items()]
    _commit_channels(changes.get("channels", {}), contact.id)
    return contact


def delete_contact(contact_id: int) -> None:
    """Delete a Contact and its Channels; its ledger rows keep their history."""
    db.session.delete(find_contact(contact_id))
    db.session.commit()
