"""The console's other pages: rejection counts, one message by id (an outbound one with its
attempts and, when it failed, a retry), and pushes to the agent runtime (with retry). Contacts
are in contacts.py, waitboxes and outbound messages in sending.py."""
from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from orqo.console import bp
from orqo.console.deliveries import names
from orqo.models.outbox import PUSH_STATUSES
from orqo.services import apps as apps_service
from orqo.services import outbound as outbound_service
from orqo.services import push as push_service
from orqo.services import rejections as rejections_service


@bp.route("/rejections")
def rejections_page():
    """Refused deliveries, counted per App, outcome and source address in time windows."""
    app_id = request.args.get("app_id", "").strip()[:64] or None
    apps = apps_service.list_apps()
    return render_template("console/rejections.html", app_id=app_id, apps=apps,
                           app_names=names(apps),
                           rejections=rejections_service.list_rejections(app_id, limit=200))


@bp.route("/messages")
def find_message():
    """Look a message up by its id (the API and the agent's answers give it)."""
    given = request.args.get("id", "").strip()
    if given.isascii() and given.isdigit() and len(given) <= 18:
        return redirect(url_for("console.message_page", message_id=int(given)))
    error = "Give a message id: a number." if given else None
    return render_template("console/message_find.html", given=given,
                           error=error), 422 if error else 200


@bp.route("/messages/<int:message_id>")
def message_page(message_id):
    """One message, either way: an inbound one with its ledger outcome, an outbound one
    with its send status, attempts and last error."""
    message = outbound_service.describe_message(outbound_service.find_message(message_id))
    return render_template("console/message.html", message=message)


@bp.route("/pushes")
def pushes_page():
    """The newest pushes of routed messages to the agent runtime, with their attempts."""
    status = request.args.get("status", "")
    status = status if status in PUSH_STATUSES else None
    pushes = [push_service.describe_push(p) for p in push_service.list_pushes(status, 100)]
    return render_template("console/pushes.html", pushes=pushes, status=status,
                           statuses=PUSH_STATUSES)


@bp.route("/pushes/<int:push_id>/retry", methods=["POST"])
def retry_push(push_id):
    """Send a pending or dead push again soon, with a fresh attempt budget."""
    push_service.retry(push_id)
    flash(f"Push {push_id} will be sent again by the worker.")
    return redirect(url_for("console.pushes_page"))
