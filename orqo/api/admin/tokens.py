"""``/api/v1/tokens``: API tokens (their secrets are shown once, at creation)."""
from __future__ import annotations

from orqo.api import SHOWN_ONCE
from orqo.api import Blueprint
from orqo.api.admin_schemas import TokenIn
from orqo.api.admin_schemas import TokenOut
from orqo.api.auth import require_scope
from orqo.services import tokens as token_service

bp = Blueprint("tokens", __name__, url_prefix="/api/v1/tokens", description="API tokens.")


@bp.route("", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, TokenOut(many=True))
def list_tokens():
    """Every token (never its secret)."""
    return [token_service.describe_token(t) for t in token_service.list_tokens()]


@bp.route("", methods=["POST"])
@require_scope(bp, "admin")
@bp.arguments(TokenIn)
@bp.response(201, TokenOut)
def create_token(body):
    """Create a token; ``token`` is in this answer only."""
    token, secret = token_service.issue_token(body["name"], body["scopes"])
    return {**token_service.describe_token(token), "token": secret}, SHOWN_ONCE


@bp.route("/<int:token_id>", methods=["DELETE"])
@require_scope(bp, "admin")
@bp.response(200, TokenOut)
def revoke_token(token_id):
    """Revoke a token at once."""
    return token_service.describe_token(token_service.revoke_token(token_id))
