"""``/api/v1/apps`` and ``/api/v1/contacts``."""
from __future__ import annotations

from orqo.api import Blueprint
from orqo.api.admin_schemas import AppIn
from orqo.api.admin_schemas import AppOut
from orqo.api.admin_schemas import AppPatch
from orqo.api.admin_schemas import ContactArgs
from orqo.api.admin_schemas import ContactIn
from orqo.api.admin_schemas import ContactOut
from orqo.api.admin_schemas import ContactPatch
from orqo.api.admin_schemas import page_of
from orqo.api.auth import require_scope
from orqo.api.pagination import page
from orqo.models import Contact
from orqo.services import apps as app_service
from orqo.services import contacts as contact_service

bp = Blueprint("apps", __name__, url_prefix="/api/v1", description="Apps and Contacts.")


def _channels(items) -> dict:
    return {item["app_id"]: item["sender_id"] for item in items}


@bp.route("/apps", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, AppOut(many=True))
def list_apps():
    """Every App, oldest first, with its activity (credentials never shown)."""
    return app_service.describe_apps(app_service.list_apps())


@bp.route("/apps", methods=["POST"])
@require_scope(bp, "admin")
@bp.arguments(AppIn)
@bp.response(201, AppOut)
def create_app(body):
    """Create an App; its adapter validates credentials and config (422 with details)."""
    return app_service.describe_app(app_service.create_app_record(
        body["name"], body["adapter"], body.get("credentials", {}), body["config"],
        body["route_to_doorkeeper"]))


@bp.route("/apps/<app_id>", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, AppOut)
def get_app(app_id):
    """One App with its activity: last delivery and the last 24 hours' deliveries and
    errors (credentials never shown, only which are set)."""
    return app_service.describe_app(app_service.find_app_record(app_id))


@bp.route("/apps/<app_id>", methods=["PATCH"])
@require_scope(bp, "admin")
@bp.arguments(AppPatch)
@bp.response(200, AppOut)
def update_app(body, app_id):
    """Change an App; the result is validated like a new one. ``enabled`` false turns it
    off (its deliveries are answered 403 ``app_disabled``), true turns it on again."""
    return app_service.describe_app(app_service.update_app_record(app_id, body))


@bp.route("/apps/<app_id>", methods=["DELETE"])
@require_scope(bp, "admin")
@bp.response(204)
def delete_app(app_id):
    """Delete an App and everything recorded for it."""
    app_service.delete_app_record(app_id)


@bp.route("/contacts", methods=["GET"])
@require_scope(bp, "admin")
@bp.arguments(ContactArgs, location="query")
@bp.response(200, page_of(ContactOut, "ContactPage"))
def list_contacts(args):
    """Contacts, newest first, optionally only those on one App and those matching a
    ``search`` (name, ignoring case, or a Channel's sender id)."""
    return page(contact_service.contacts_query(args["app_id"], args["search"]), Contact.id, args,
                contact_service.describe_contact)


@bp.route("/contacts", methods=["POST"])
@require_scope(bp, "admin")
@bp.arguments(ContactIn)
@bp.response(201, ContactOut)
def create_contact(body):
    """Create a Contact with its Channels (one per App)."""
    return contact_service.describe_contact(
        contact_service.create_contact(body["name"], _channels(body["channels"])))


@bp.route("/contacts/<int:contact_id>", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, ContactOut)
def get_contact(contact_id):
    """One Contact with its Channels."""
    return contact_service.describe_contact(contact_service.find_contact(contact_id))


@bp.route("/contacts/<int:contact_id>", methods=["PATCH"])
@require_scope(bp, "admin")
@bp.arguments(ContactPatch)
@bp.response(200, ContactOut)
def update_contact(body, contact_id):
    """Rename a Contact or replace its Channels."""
    if "channels" in body:
        body = {**body, "channels": _channels(body["channels"])}
    return contact_service.describe_contact(contact_service.update_contact(contact_id, body))


@bp.route("/contacts/<int:contact_id>", methods=["DELETE"])
@require_scope(bp, "admin")
@bp.response(204)
def delete_contact(contact_id):
    """Delete a Contact and its Channels."""
    contact_service.delete_contact(contact_id)
