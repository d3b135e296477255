"""``/api/v1/events``: the ledger of deliveries, and replays of stored messages."""
from __future__ import annotations

from orqo.api import Blueprint
from orqo.api.admin_schemas import DeliveryOut
from orqo.api.admin_schemas import LedgerArgs
from orqo.api.admin_schemas import ReplayOut
from orqo.api.admin_schemas import page_of
from orqo.api.auth import require_scope
from orqo.api.pagination import page
from orqo.models import Delivery
from orqo.services import ledger

bp = Blueprint("events", __name__, url_prefix="/api/v1/events",
               description="The ledger: every delivery and what became of its messages.")


@bp.route("", methods=["GET"])
@require_scope(bp, "admin")
@bp.arguments(LedgerArgs, location="query")
@bp.response(200, page_of(DeliveryOut, "DeliveryPage"))
def list_events(args):
    """Deliveries, newest first, filtered by App, outcome and time, a page at a time."""
    query = ledger.deliveries_query(args["app_id"], args["outcome"], args["since"], args["until"])
    return page(query, Delivery.id, args, ledger.describe_delivery)


@bp.route("/<int:delivery_id>", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, DeliveryOut)
def get_event(delivery_id):
    """One delivery with its messages."""
    return ledger.describe_delivery(ledger.find_delivery(delivery_id))


@bp.route("/<int:message_id>/replay", methods=["POST"])
@require_scope(bp, "admin")
@bp.response(200, ReplayOut)
def replay(message_id):
    """Route a stored ``unknown_sender`` message again (409 if it was routed already)."""
    delivery, record = ledger.replay(message_id)
    return {"delivery_id": delivery.id, "replay_of": message_id,
            "message": ledger.describe_message(record)}
