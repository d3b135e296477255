"""Doorkeeper's side of the API: the work queue and the conversations."""
from __future__ import annotations

from orqo.api import Blueprint
from orqo.api.auth import require_scope
from orqo.api.pagination import PageArgs
from orqo.api.schemas import AckIn
from orqo.api.schemas import AckOut
from orqo.api.schemas import ClaimIn
from orqo.api.schemas import ClaimOut
from orqo.api.schemas import ConversationOut
from orqo.services import conversations
from orqo.services import work_queue

bp = Blueprint("doorkeeper", __name__, url_prefix="/api/v1",
               description="Doorkeeper: conversations and their work queue.")


@bp.route("/doorkeeper/claims", methods=["POST"])
@require_scope(bp, "agent")
@bp.arguments(ClaimIn)
@bp.response(200, ClaimOut)
def claim(body):
    """Claim up to ``limit`` queued messages for ``lease_seconds``; ack them with the token."""
    return work_queue.claim(body["claimant"], body["limit"], body["lease_seconds"])


@bp.route("/doorkeeper/acks", methods=["POST"])
@require_scope(bp, "agent")
@bp.arguments(AckIn)
@bp.response(200, AckOut)
def ack(body):
    """Acknowledge handled messages; those no longer held by this claim are ``rejected``."""
    return work_queue.ack(body["claim_token"], body["entry_ids"])


@bp.route("/conversations/<int:conversation_id>", methods=["GET"])
@require_scope(bp, "agent")
@bp.arguments(PageArgs, location="query")
@bp.response(200, ConversationOut)
def get_conversation(args, conversation_id):
    """A conversation with its sessions, and its messages oldest first, a page at a time
    (``limit``, ``cursor``: ``next_cursor`` continues after the page's last entry)."""
    return conversations.read_conversation(conversation_id, args)
