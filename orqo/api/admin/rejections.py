"""``/api/v1/rejections``: how many deliveries that proved nothing each App was sent."""
from __future__ import annotations

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from orqo.api import Blueprint
from orqo.api.auth import require_scope
from orqo.services import rejections

bp = Blueprint("rejections", __name__, url_prefix="/api/v1/rejections",
               description="Counts of refused deliveries (bad or missing signatures, unsigned "
                           "pings), per App, window, outcome and source address.")


class RejectionArgs(Schema):
    app_id = fields.String(load_default=None, validate=validate.Length(max=64))
    since = fields.AwareDateTime(load_default=None, default_timezone=None)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class RejectionOut(Schema):
    app_id = fields.String()
    window_start = fields.String(metadata={"description": "Start of the counting window."})
    outcome = fields.String()
    source = fields.String(metadata={"description": "Sender address, or `other`."})
    count = fields.Integer()
    first_at = fields.String()
    last_at = fields.String()
    last_status = fields.Integer()
    last_reason = fields.String()


class RejectionList(Schema):
    items = fields.List(fields.Nested(RejectionOut))


@bp.route("", methods=["GET"])
@require_scope(bp, "admin")
@bp.arguments(RejectionArgs, location="query")
@bp.response(200, RejectionList)
def list_rejections(args):
    """The counts, newest window first (the first refusals of each window are also in the
    ledger, ``/api/v1/deliveries``, in full)."""
    return {"items": rejections.list_rejections(args["app_id"], args["since"], args["limit"])}
