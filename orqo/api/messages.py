"""``/api/v1/messages``: agents send messages through the platform a Contact writes on, and
read any message back; an admin lists messages, replays a stored inbound message and
retries a failed outbound one."""
from __future__ import annotations

from flask import g
from flask import request

from orqo.api import Blueprint
from orqo.api.admin_schemas import ReplayOut
from orqo.api.admin_schemas import page_of
from orqo.api.auth import require_scope
from orqo.api.admin_schemas import MessageArgs
from orqo.api.pagination import page
from orqo.api.schemas import MessageIn
from orqo.api.schemas import MessageOut
from orqo.api.triggers import IDEMPOTENCY_HEADER
from orqo.services import idempotency
from orqo.services import ledger
from orqo.models import MessageRecord
from orqo.services import outbound
from orqo.services import sending

bp = Blueprint("messages", __name__, url_prefix="/api/v1/messages",
               description="Messages: send one through an App's platform; read or list messages; "
                           "replay a stored inbound one; retry a failed outbound one.")


@bp.route("", methods=["POST"])
@require_scope(bp, "agent")
@bp.doc(parameters=[{"in": "header", "name": name, **spec}
                    for name, spec in IDEMPOTENCY_HEADER.items()])
@bp.arguments(MessageIn)
@bp.response(202, MessageOut)
def send_message(body):
    """Queue a message to a Contact; ``orqo worker`` sends it. A repeated
    ``Idempotency-Key`` within 24 hours answers the first message and queues nothing."""
    def queue() -> dict:
        message = outbound.queue_message(body["app_id"], body["contact_id"], body["text"],
                                         in_reply_to=body["in_reply_to"],
                                         await_reply=body["await_reply"])
        return MessageOut().dump(outbound.describe_message(message))

    return idempotency.answer_once(
        f"messages:{g.api_token.id}",
        idempotency.check_key(request.headers.get("Idempotency-Key")), 202, queue)


@bp.route("", methods=["GET"])
@require_scope(bp, "admin")
@bp.arguments(MessageArgs, location="query")
@bp.response(200, page_of(MessageOut, "MessagePage"))
def list_messages(args):
    """Messages, newest first, optionally of one App, one ``direction`` and one ``status``
    (``received``; or an outbound message's ``queued``, ``sent``, ``failed``)."""
    return page(outbound.messages_query(args["app_id"], args["status"], args["direction"]),
                MessageRecord.id, args, outbound.describe_message_row)


@bp.route("/<int:message_id>", methods=["GET"])
@require_scope(bp, "agent")
@bp.response(200, MessageOut)
def get_message(message_id):
    """A message, inbound or outbound: what it says and what became of it."""
    return outbound.describe_message(outbound.find_message(message_id))


@bp.route("/<int:message_id>/replay", methods=["POST"])
@require_scope(bp, "admin")
@bp.response(200, ReplayOut)
def replay_message(message_id):
    """Route a stored ``unknown_sender`` or ``throttled`` inbound message again, recorded as a
    delivery of its own (409 if it was routed already)."""
    delivery, record = ledger.replay(message_id)
    return ledger.describe_replay(delivery, record, message_id)


@bp.route("/<int:message_id>/retry", methods=["POST"])
@require_scope(bp, "admin")
@bp.response(200, MessageOut)
def retry_message(message_id):
    """Queue a ``failed`` outbound message again with a fresh attempt budget; ``orqo worker``
    sends it (409 when the message is not outbound or not failed)."""
    sending.retry(message_id)
    return outbound.describe_message(outbound.find_message(message_id))
