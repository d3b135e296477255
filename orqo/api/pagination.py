"""Cursor pagination: ``?limit=N&cursor=C`` answers ``{"items", "next_cursor"}``.

Lists run newest first; a conversation's entries run oldest first. The cursor is the opaque
form of the last id returned; the next page holds the rows past it (smaller ids newest first,
larger oldest first), so rows added meanwhile never shift a page.
"""
from __future__ import annotations

import base64
import binascii
import re

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from orqo.errors import ApiError
from orqo.extensions import db

# ASCII digits that fit a 64-bit id: str.isdigit() would take "²", which int() refuses.
CURSOR_ID = re.compile(r"[0-9]{1,19}\Z")
MAX_ID = 2 ** 63 - 1


class PageArgs(Schema):
    """Query arguments of a paginated list."""

    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(load_default=None, validate=validate.Length(max=64))


def encode_cursor(last_id: int) -> str:
    """The cursor that continues after ``last_id``."""
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor continues after; 422 for a cursor orqo did not make."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        if kind != "id" or not CURSOR_ID.match(value) or int(value) > MAX_ID:
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(422, "validation_error", "The request is not valid.",
                       {"cursor": ["Not a cursor from a previous page."]}) from None


def page(query, id_column, args: dict, describe, oldest_first: bool = False) -> dict:
    """One page of ``query`` ordered by ``id_column`` (newest first, or ``oldest_first``),
    each row through ``describe`` (called with the row's entities, so a query of two entities,
    such as an entry and its message, gives ``describe(entry, message)``)."""
    if args.get("cursor"):
        after = decode_cursor(args["cursor"])
        query = query.where(id_column > after if oldest_first else id_column < after)
    order = id_column.asc() if oldest_first else id_column.desc()
    rows = db.session.execute(query.order_by(order).limit(args["limit"] + 1)).all()
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    return {"items": [describe(*row) for row in rows],
            "next_cursor": encode_cursor(rows[-1][0].id) if more and rows else None}
