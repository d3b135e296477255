"""The console's Contacts: the list with search, one Contact (rename, its Channels edited,
added and removed), its conversations in both directions, and deleting it. Every change goes
through :mod:`orqo.services.contacts`, as the API's and the CLI's do."""
from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from sqlalchemy import func
from sqlalchemy import select

from orqo.api.pagination import page
from orqo.console import bp
from orqo.console.apps import form_errors
from orqo.console.deliveries import names
from orqo.console.listing import PAGE_SIZE
from orqo.console.listing import id_arg
from orqo.console.listing import older_url
from orqo.console.listing import text_arg
from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import Contact
from orqo.models import ConversationEntry
from orqo.services import apps as apps_service
from orqo.services import contacts as contacts_service
from orqo.services import conversations as conversations_service
from orqo.services import waitboxes as waitboxes_service


@bp.route("/contacts", methods=["GET", "POST"])
def contacts_page():
    """Contacts with their Channels, newest first, optionally of one App and matching a
    search (name, or a Channel's sender id); and a form to add one."""
    apps = apps_service.list_apps()
    errors, status = {}, 200
    if request.method == "POST":
        app_id = request.form.get("app_id", "")
        sender_id = request.form.get("sender_id", "").strip()
        try:
            contact = contacts_service.create_contact(request.form.get("name", ""),
                                                      {app_id: sender_id} if app_id else {})
        except ApiError as exc:
            errors, status = form_errors(exc)
        else:
            flash(f"Contact {contact.name!r} created.")
            return redirect(url_for("console.contact_page", contact_id=contact.id))
    filters = {"app_id": text_arg("app_id"), "search": text_arg("search", 200)}
    result = page(contacts_service.contacts_query(filters["app_id"], filters["search"]),
                  Contact.id, {"limit": PAGE_SIZE, "cursor": request.args.get("cursor") or None},
                  contacts_service.describe_contact)
    return render_template(
        "console/contacts.html", contacts=result["items"], apps=apps, app_names=names(apps),
        app_id=filters["app_id"], search=filters["search"], errors=errors, form=request.form,
        older_url=older_url("console.contacts_page", result["next_cursor"], filters)), status


def channels_from_form(form) -> dict[str, str]:
    """The Channels a Contact's form keeps: rows ``app_id-N``/``sender_id-N`` not ticked
    ``remove-N``, and the new row when an App is chosen. 422 when two rows name one App (a
    Contact has one Channel per App)."""
    channels, twice = {}, []
    for key in form:
        if not key.startswith("app_id-"):
            continue
        index = key.removeprefix("app_id-")
        app_id = form.get(key, "").strip()
        if not app_id or form.get(f"remove-{index}"):
            continue
        if app_id in channels:
            twice.append(app_id)
        channels[app_id] = form.get(f"sender_id-{index}", "").strip()
    if twice:
        raise ApiError(422, "validation_error", "The Contact is not valid.", {"channels": [
            f"App {app_id!r} is named twice: a Contact has one Channel per App."
            for app_id in twice]})
    return channels


@bp.route("/contacts/<int:contact_id>", methods=["GET", "POST"])
def contact_page(contact_id):
    """One Contact: rename it, edit, add and remove its Channels (a sender id another
    Contact has is refused with the service's 409), links to its conversations and
    waitboxes."""
    contact = contacts_service.find_contact(contact_id)
    errors, status, form = {}, 200, {}
    if request.method == "POST":
        action = request.form.get("action")
        try:
            if action == "rename":
                changes = {"name": request.form.get("name", "")}
            elif action == "channels":
                changes = {"channels": channels_from_form(request.form)}
            else:
                raise ApiError(400, "bad_request", "The form names no change to make.")
            contacts_service.update_contact(contact_id, changes)
        except ApiError as exc:
            errors, status, form = *form_errors(exc), request.form
            contact = contacts_service.find_contact(contact_id)
        else:
            flash("Name saved." if action == "rename" else "Channels saved.")
            return redirect(url_for("console.contact_page", contact_id=contact_id))
    apps = apps_service.list_apps()
    waiting = db.session.scalar(select(func.count()).select_from(
        waitboxes_service.waitboxes_query(contact_id=contact_id, status="waiting").subquery()))
    return render_template(
        "console/contact.html", contact=contacts_service.describe_contact(contact), apps=apps,
        app_names=names(apps), errors=errors, form=form, waiting=waiting,
        conversations=conversations_service.contact_conversations(contact_id)), status


@bp.route("/contacts/<int:contact_id>/conversation")
def contact_conversation(contact_id):
    """A Contact's conversation (one per App, chat and thread: pick one; the newest first),
    in both directions, a page of the newest entries shown oldest first."""
    contact = contacts_service.describe_contact(contacts_service.find_contact(contact_id))
    conversations = conversations_service.contact_conversations(contact_id)
    errors = {}
    chosen = id_arg("conversation_id", errors)
    known = {c["id"] for c in conversations}
    if chosen is not None and chosen not in known:
        raise ApiError(404, "not_found", f"Contact {contact_id} has no conversation {chosen}.")
    chosen = chosen if chosen is not None else (conversations[0]["id"] if conversations else None)
    entries, older = [], None
    if chosen is not None:
        result = page(conversations_service.entries_query(chosen), ConversationEntry.id,
                      {"limit": PAGE_SIZE, "cursor": request.args.get("cursor") or None},
                      conversations_service.describe_entry)
        entries = list(reversed(result["items"]))  # newest page, read top to bottom
        older = older_url("console.contact_conversation", result["next_cursor"],
                          {"conversation_id": chosen}, contact_id=contact_id)
    apps = apps_service.list_apps()
    return render_template(
        "console/conversation.html", contact=contact, conversations=conversations,
        chosen=chosen, entries=entries, older_url=older, app_names=names(apps),
        errors=errors), 422 if errors else 200


@bp.route("/contacts/<int:contact_id>/delete", methods=["GET", "POST"])
def delete_contact(contact_id):
    """Ask, then delete a Contact and its Channels (the ledger keeps its history)."""
    contact = contacts_service.describe_contact(contacts_service.find_contact(contact_id))
    if request.method == "POST":
        contacts_service.delete_contact(contact_id)
        flash(f"Contact {contact['name']!r} deleted.")
        return redirect(url_for("console.contacts_page"))
    return render_template("console/contact_delete.html", contact=contact)
