"""The console's pages of what agents wait for and send: waitboxes (with cancel) and
outbound messages with their attempts (with retry of a failed one). The buttons call the
same service functions as the API and the CLI."""
from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from orqo.api.pagination import page
from orqo.console import bp
from orqo.console.deliveries import names
from orqo.console.listing import PAGE_SIZE
from orqo.console.listing import back_url
from orqo.console.listing import choice_arg
from orqo.console.listing import id_arg
from orqo.console.listing import older_url
from orqo.console.listing import text_arg
from orqo.models import MessageRecord
from orqo.models import Waitbox
from orqo.models.sending import SEND_STATUSES
from orqo.services import apps as apps_service
from orqo.services import contacts as contacts_service
from orqo.services import outbound as outbound_service
from orqo.services import sending as sending_service
from orqo.services import waitboxes as waitboxes_service


def _cursor() -> dict:
    return {"limit": PAGE_SIZE, "cursor": request.args.get("cursor") or None}


@bp.route("/waitboxes")
def waitboxes_page():
    """Waitboxes, newest first, filtered by App, Contact and status; waiting ones can be
    cancelled."""
    errors = {}
    filters = {"app_id": text_arg("app_id"), "contact_id": id_arg("contact_id", errors),
               "status": choice_arg("status", waitboxes_service.WAITBOX_STATUSES, errors)}
    result = page(waitboxes_service.waitboxes_query(**filters), Waitbox.id, _cursor(),
                  waitboxes_service.describe_waitbox)
    apps = apps_service.list_apps()
    return render_template(
        "console/waitboxes.html", waitboxes=result["items"], apps=apps, app_names=names(apps),
        contact_names=contacts_service.contact_names(w["contact_id"] for w in result["items"]),
        filters=filters, given={key: request.args.get(key, "") for key in filters},
        statuses=waitboxes_service.WAITBOX_STATUSES, errors=errors,
        older_url=older_url("console.waitboxes_page", result["next_cursor"], filters),
    ), 422 if errors else 200


@bp.route("/waitboxes/<int:waitbox_id>/cancel", methods=["POST"])
def cancel_waitbox(waitbox_id):
    """Cancel a waiting waitbox (409 when it was answered, expired or cancelled already)."""
    waitboxes_service.cancel_waitbox(waitbox_id)
    flash(f"Waitbox {waitbox_id} cancelled.")
    return redirect(back_url(url_for("console.waitboxes_page")))


@bp.route("/outbound")
def outbound_page():
    """Messages agents sent through the platforms, newest first, filtered by App and send
    status, each with its attempts, last error and the platform's id; failed ones can be
    retried."""
    errors = {}
    filters = {"app_id": text_arg("app_id"),
               "status": choice_arg("status", SEND_STATUSES, errors)}
    result = page(outbound_service.messages_query(filters["app_id"], filters["status"],
                                                  "outbound"),
                  MessageRecord.id, _cursor(), outbound_service.describe_message_row)
    apps = apps_service.list_apps()
    return render_template(
        "console/outbound.html", messages=result["items"], apps=apps, app_names=names(apps),
        contact_names=contacts_service.contact_names(m["contact_id"] for m in result["items"]),
        filters=filters, statuses=SEND_STATUSES, errors=errors,
        older_url=older_url("console.outbound_page", result["next_cursor"], filters),
    ), 422 if errors else 200


@bp.route("/messages/<int:message_id>/retry", methods=["POST"])
def retry_message(message_id):
    """Queue a failed outbound message again with a fresh attempt budget (409 when it is not
    outbound or not failed)."""
    sending_service.retry(message_id)
    flash(f"Message {message_id} is queued again: orqo worker sends it.")
    return redirect(back_url(url_for("console.message_page", message_id=message_id)))
