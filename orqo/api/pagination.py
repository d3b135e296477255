"""Cursor pagination, newest first: ``?limit=N&cursor=C`` answers ``{"items", "next_cursor"}``.

The cursor is the opaque form of the last id returned; the next page holds the rows with
smaller ids, so rows added meanwhile never shift a page.
"""
from __future__ import annotations

import base64
import binascii

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from orqo.errors import ApiError
from orqo.extensions import db


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
        if kind != "id" or not value.isdigit():
            raise ValueError(text)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(422, "validation_error", "The request is not valid.",
                       {"cursor": ["Not a cursor from a previous page."]}) from None


def page(query, id_column, args: dict, describe) -> dict:
    """One page of ``query`` (newest first by ``id_column``), each row through ``describe``."""
    if args.get("cursor"):
        query = query.where(id_column < decode_cursor(args["cursor"]))
    rows = list(db.session.scalars(query.order_by(id_column.desc()).limit(args["limit"] + 1)))
    more = len(rows) > args["limit"]
    rows = rows[:args["limit"]]
    return {"items": [describe(row) for row in rows],
            "next_cursor": encode_cursor(rows[-1].id) if more and rows else None}
