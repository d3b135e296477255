"""Query arguments of the lists the console's pages added filters to: Contacts by search,
and messages by App, direction and status (admin_schemas.py holds the older ones)."""
from __future__ import annotations

from marshmallow import fields
from marshmallow import validate

from orqo.api.admin_schemas import ContactArgs
from orqo.api.pagination import PageArgs
from orqo.services.outbound import DIRECTIONS
from orqo.services.outbound import MESSAGE_STATUSES


class ContactSearchArgs(ContactArgs):
    search = fields.String(load_default=None, validate=validate.Length(max=200), metadata={
        "description": "Only Contacts whose name contains this (ignoring case) or with a "
                       "Channel whose sender id contains it."})


class MessageArgs(PageArgs):
    app_id = fields.String(load_default=None, validate=validate.Length(max=64))
    direction = fields.String(load_default=None, validate=validate.OneOf(DIRECTIONS))
    status = fields.String(load_default=None, validate=validate.OneOf(MESSAGE_STATUSES),
                           metadata={"description": "received (inbound), or an outbound "
                                                    "message's queued, sent or failed."})
