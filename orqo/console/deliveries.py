"""The console's ledger pages: deliveries, one delivery, replaying a message."""
from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from orqo.api.pagination import page
from orqo.bodies import InvalidJson
from orqo.bodies import decode_json
from orqo.console import bp
from orqo.models import DELIVERY_OUTCOMES
from orqo.models import Delivery
from orqo.services import apps as apps_service
from orqo.services import ledger

PAGE_SIZE = 50


def ledger_filters() -> tuple[dict, dict]:
    """The query's filters as given (for the form and links) and as the service takes them;
    a bad value is dropped with an error for the page, never a 5xx."""
    given = {key: request.args.get(key, "").strip() for key in ("app_id", "outcome", "since")}
    errors = {}
    outcome = given["outcome"] if given["outcome"] in DELIVERY_OUTCOMES else None
    if given["outcome"] and outcome is None:
        errors["outcome"] = "Not a delivery outcome."
    since = None
    if given["since"]:
        try:
            since = datetime.fromisoformat(given["since"])
        except ValueError:
            errors["since"] = "Give a date and time, such as 2026-11-29T14:00."
        else:
            # A browser's datetime-local has no zone: the console shows UTC, so it means UTC.
            since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
    app_id = given["app_id"][:64] or None
    return given, {"app_id": app_id, "outcome": outcome, "since": since, "errors": errors}


def deliveries_page_of(filters: dict, cursor: str | None) -> dict:
    """One page of deliveries, newest first, as the API's pages are cut."""
    query = ledger.deliveries_query(filters["app_id"], filters["outcome"], filters["since"])
    return page(query, Delivery.id, {"limit": PAGE_SIZE, "cursor": cursor},
                ledger.describe_delivery)


@bp.route("/deliveries")
def deliveries_page():
    """Deliveries, newest first, filtered by App, outcome and time; the first page follows
    new ones live (console.js polls :func:`delivery_rows`)."""
    given, filters = ledger_filters()
    apps = apps_service.list_apps()
    cursor = request.args.get("cursor") or None
    result = deliveries_page_of(filters, cursor)
    query = {key: value for key, value in given.items() if value}
    return render_template(
        "console/deliveries.html", deliveries=result["items"], given=given,
        errors=filters["errors"], outcomes=DELIVERY_OUTCOMES, apps=apps, app_names=names(apps),
        live=cursor is None,
        rows_url=url_for("console.delivery_rows", **query),
        older_url=(url_for("console.deliveries_page", cursor=result["next_cursor"], **query)
                   if result["next_cursor"] else None))


@bp.route("/deliveries/rows")
def delivery_rows():
    """The first page's table rows alone: what the live refresh swaps in."""
    _given, filters = ledger_filters()
    result = deliveries_page_of(filters, None)
    response = render_template("console/_delivery_rows.html", deliveries=result["items"],
                               app_names=names(apps_service.list_apps()))
    return response, 200, {"X-Orqo-Fragment": "deliveries"}


def names(apps) -> dict:
    """App names by id, to show next to ids."""
    return {record.id: record.name for record in apps}


@bp.route("/deliveries/<int:delivery_id>")
def delivery_page(delivery_id):
    """One delivery: its timing, meta and each message's outcome, with replay buttons, and
    what it carried: its headers (secrets redacted) and its body as kept."""
    delivery = ledger.describe_delivery(ledger.find_delivery(delivery_id), carried=True)
    return render_template("console/delivery.html", delivery=delivery,
                           body=shown_body(delivery), replayable=ledger.REPLAYABLE)


def shown_body(delivery: dict) -> str | None:
    """The body as the page shows it: pretty-printed when it is whole JSON, as kept
    otherwise (a cut JSON body is not JSON any more); None when not kept."""
    body = delivery["body"]
    if body is None or delivery["body_truncated"] or body.lstrip()[:1] not in ("{", "["):
        return body
    try:
        return json.dumps(decode_json(body), indent=2, ensure_ascii=False)
    except (InvalidJson, RecursionError):  # nested too deeply to indent: shown as kept
        return body


@bp.route("/messages/<int:message_id>/replay", methods=["POST"])
def replay_message(message_id):
    """Route a stored ``unknown_sender``/``throttled`` message again; show the new delivery."""
    delivery, record = ledger.replay(message_id)
    flash(f"Message {message_id} replayed: {record.outcome}"
          + (f" ({record.reason})" if record.reason else "") + ".")
    return redirect(url_for("console.delivery_page", delivery_id=delivery.id))
