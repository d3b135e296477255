"""``/api/v1/waitboxes``: an agent waits for a Contact's answer."""
from __future__ import annotations

from orqo.api import Blueprint
from orqo.api.admin_schemas import WaitboxArgs
from orqo.api.admin_schemas import page_of
from orqo.api.auth import require_scope
from orqo.api.pagination import page
from orqo.api.schemas import WaitboxIn
from orqo.api.schemas import WaitboxOut
from orqo.models import Waitbox
from orqo.services import waitboxes

bp = Blueprint("waitboxes", __name__, url_prefix="/api/v1/waitboxes",
               description="Waitboxes: an agent waiting for one answer from one Contact.")


@bp.route("", methods=["POST"])
@require_scope(bp, "agent")
@bp.arguments(WaitboxIn)
@bp.response(201, WaitboxOut)
def open_waitbox(body):
    """Open a waitbox; the next matching message from the Contact answers it."""
    waitbox = waitboxes.open_waitbox(body["app_id"], body["contact_id"], body["expires_in"],
                                     body["thread_id"], body["reference"])
    return waitboxes.describe_waitbox(waitbox)


@bp.route("", methods=["GET"])
@require_scope(bp, "agent")
@bp.arguments(WaitboxArgs, location="query")
@bp.response(200, page_of(WaitboxOut, "WaitboxPage"))
def list_waitboxes(args):
    """Waitboxes, newest first, optionally of one App and/or Contact and in one status."""
    return page(waitboxes.waitboxes_query(args["app_id"], args["contact_id"], args["status"]),
                Waitbox.id, args, waitboxes.describe_waitbox)


@bp.route("/<int:waitbox_id>", methods=["GET"])
@require_scope(bp, "agent")
@bp.response(200, WaitboxOut)
def get_waitbox(waitbox_id):
    """A waitbox: waiting, answered (with the message), expired or cancelled."""
    return waitboxes.describe_waitbox(waitboxes.find_waitbox(waitbox_id))


@bp.route("/<int:waitbox_id>", methods=["DELETE"])
@require_scope(bp, "agent")
@bp.response(200, WaitboxOut)
def cancel_waitbox(waitbox_id):
    """Cancel a waiting waitbox (409 when it is no longer waiting)."""
    return waitboxes.describe_waitbox(waitboxes.cancel_waitbox(waitbox_id))
