"""``/api/v1/deliveries``: the ledger of deliveries (inbound requests) and their messages.

Replaying a stored message is ``POST /api/v1/messages/<message_id>/replay``
(:mod:`orqo.api.messages`): it takes a message's id, never a delivery's.
"""
from __future__ import annotations

from orqo.api import Blueprint
from orqo.api.admin_schemas import DeliveryArgs
from orqo.api.admin_schemas import DeliveryDetailOut
from orqo.api.admin_schemas import DeliveryOut
from orqo.api.admin_schemas import page_of
from orqo.api.auth import require_scope
from orqo.api.pagination import page
from orqo.models import Delivery
from orqo.services import ledger

bp = Blueprint("deliveries", __name__, url_prefix="/api/v1/deliveries",
               description="The ledger: every delivery and what became of its messages.")


@bp.route("", methods=["GET"])
@require_scope(bp, "admin")
@bp.arguments(DeliveryArgs, location="query")
@bp.response(200, page_of(DeliveryOut, "DeliveryPage"))
def list_deliveries(args):
    """Deliveries, newest first, filtered by App, outcome and time, a page at a time (without
    headers and bodies: ``GET /api/v1/deliveries/<id>`` has them)."""
    query = ledger.deliveries_query(args["app_id"], args["outcome"], args["since"], args["until"])
    return page(query, Delivery.id, args, ledger.describe_delivery)


@bp.route("/<int:delivery_id>", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, DeliveryDetailOut)
def get_delivery(delivery_id):
    """One delivery with its messages and what it carried: its headers (secrets redacted) and
    its body, up to ``LEDGER_BODY_BYTES``."""
    return ledger.describe_delivery(ledger.find_delivery(delivery_id), carried=True)
