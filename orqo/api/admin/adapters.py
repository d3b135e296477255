"""``/api/v1/adapters``: the installed adapters and what their Apps take."""
from __future__ import annotations

from flask import current_app
from marshmallow import Schema
from marshmallow import fields

from orqo.adapters import describe_settings
from orqo.api import Blueprint
from orqo.api.auth import require_scope

bp = Blueprint("adapters", __name__, url_prefix="/api/v1/adapters",
               description="The installed adapters, with each credential and config field "
                           "their Apps take.")


class SettingOut(Schema):
    name = fields.String()
    type = fields.String(metadata={"description": "string, integer, number, boolean, list "
                                                  "or object."})
    required = fields.Boolean()
    default = fields.Raw(allow_none=True, metadata={"description": "Filled in when not given "
                                                                   "(null: none)."})
    description = fields.String()
    choices = fields.List(fields.Raw(), allow_none=True,
                          metadata={"description": "The values allowed, when only some are."})


class AdapterOut(Schema):
    platform = fields.String(metadata={"description": "What an App's `adapter` names."})
    description = fields.String()
    sends = fields.Boolean(metadata={"description": "Whether the adapter can send agents' "
                                                    "messages (an App's config may still not)."})
    samples = fields.Boolean(metadata={"description": "Whether `orqo send` can make a signed "
                                                      "test delivery for its Apps."})
    credentials = fields.List(fields.Nested(SettingOut), metadata={
        "description": "Secrets: never shown back once saved."})
    config = fields.List(fields.Nested(SettingOut))


class AdapterList(Schema):
    items = fields.List(fields.Nested(AdapterOut))


@bp.route("", methods=["GET"])
@require_scope(bp, "admin")
@bp.response(200, AdapterList)
def list_adapters():
    """The installed adapters by platform name, each with the credential and config fields
    its Apps take (type, required, default, description), as ``orqo adapters show`` prints."""
    adapters = current_app.extensions["orqo"].adapters
    return {"items": [describe_settings(adapters[name]) for name in sorted(adapters)]}
