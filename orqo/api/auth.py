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


def require_scope(blueprint, *scopes: str):
    """Decorator: the request needs a live token with one of ``scopes`` (``admin`` grants all).

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
            granted = set(token.scope_list)
            if not granted & {*scopes, "admin"}:
                wanted = " or ".join(repr(scope) for scope in scopes)
                raise ApiError(403, "forbidden", f"This token lacks the {wanted} scope.")
            g.api_token = token
            return view(*args, **kwargs)

        return blueprint.doc(security=[{"bearerAuth": []}])(wrapper)

    return decorator
