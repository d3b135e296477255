"""Bearer-token authentication for the API: ``Authorization: Bearer <token>``."""
from __future__ import annotations

import functools

from flask import g
from flask import request

from orqo.errors import ApiError
from orqo.services.tokens import authenticate


def bearer_token() -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, if any."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def require_scope(blueprint, scope: str):
    """Decorator: the request needs a live token with ``scope`` (``admin`` grants every scope).

    401 without a valid token, 403 with a token lacking the scope. Also documents both in the
    OpenAPI document.
    """
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            token = authenticate(bearer_token())
            if token is None:
                raise ApiError(401, "unauthorized", "A valid API token is required.",
                               headers={"WWW-Authenticate": 'Bearer realm="orqo"'})
            if scope not in token.scope_list and "admin" not in token.scope_list:
                raise ApiError(403, "forbidden", f"This token lacks the {scope!r} scope.")
            g.api_token = token
            return view(*args, **kwargs)

        return blueprint.doc(security=[{"bearerAuth": []}])(wrapper)

    return decorator
