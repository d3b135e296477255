"""API tokens: issued once, stored as SHA-256 hashes, found by hash, revocable.

A token is ``orqo_`` followed by 43 URL-safe characters (32 random bytes). Its scopes say what
it may do: ``agent`` (waitboxes, Doorkeeper's queue, conversations), ``trigger`` (start
workflow runs), ``admin`` (everything).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import ApiToken
from orqo.models import as_utc
from orqo.models import utcnow

SCOPES = ("admin", "agent", "trigger")
TOKEN_PREFIX = "orqo_"
# Writing last_used_at on every request would turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(secret: str) -> str:
    """The stored form of a token (tokens are random, so a plain SHA-256 is enough)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_token(name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """Create a token; return it and its secret, which is shown this once and never again."""
    errors = {}
    if not name or not name.strip() or len(name) > 200:
        errors["name"] = ["A name of 1 to 200 characters is required."]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        errors["scopes"] = [f"Give one or more of {', '.join(SCOPES)}"
                            + (f"; unknown: {', '.join(unknown)}" if unknown else "") + "."]
    if errors:
        raise ApiError(422, "validation_error", "The token is not valid.", errors)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name.strip(), token_hash=hash_token(secret), prefix=secret[:9],
                     scopes=" ".join(sorted(set(scopes))))
    db.session.add(token)
    db.session.commit()
    return token, secret


def authenticate(secret: str | None) -> ApiToken | None:
    """The live token whose secret this is, or None (unknown, malformed or revoked)."""
    if not secret or not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or as_utc(token.last_used_at) < now - LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    return token


def find_live(token_id: int, token_hash: str) -> ApiToken | None:
    """The unrevoked token with this id, when its stored hash is ``token_hash`` (compared in
    constant time); None otherwise. For a session that remembers a token, never its secret."""
    token = db.session.get(ApiToken, token_id) if isinstance(token_id, int) else None
    if token is None or token.revoked_at is not None:
        return None
    if not hmac.compare_digest(token.token_hash.encode(), (token_hash or "").encode()):
        return None
    return token


def list_tokens() -> list[ApiToken]:
    """Every token, oldest first."""
    return list(db.session.scalars(select(ApiToken).order_by(ApiToken.id)))


def revoke_token(token_id: int) -> ApiToken:
    """Revoke a token at once; 404 when there is no such token."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        raise ApiError(404, "not_found", f"No API token has the id {token_id}.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()
    return token


def describe_token(token: ApiToken) -> dict:
    """A token as shown to operators: never its secret or hash."""
    def iso(value):
        return as_utc(value).isoformat() if value else None

    return {"id": token.id, "name": token.name, "prefix": token.prefix,
            "scopes": token.scope_list, "created_at": iso(token.created_at),
            "revoked_at": iso(token.revoked_at), "last_used_at": iso(token.last_used_at)}
