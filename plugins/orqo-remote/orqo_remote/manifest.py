"""The two documents a remote adapter describes itself with: ``/manifest.json`` and ``/health``.

Shapes from ORQO's adapter documentation (``shared/reference/orqo.md``):

* manifest: ``schema_version``, ``name``, ``description``, ``icon``, ``category``,
  ``capabilities`` (e.g. ``["send", "receive"]``), ``credentials`` (``[{key, type, label,
  maps_to}]``: ``key`` is the name the App stores the credential under, ``maps_to`` the name the
  adapter receives it as), ``setup_instructions``, ``author``;
* health: ``{"status": "ready", "version": "<build id>", "adapter": "<name>"}``; any status
  other than exactly ``ready`` means not ready, and ``version`` is required.

``capabilities`` must include ``receive`` (orqo's Apps receive webhooks); ``send`` says the
adapter serves ``POST /deliver`` (an App of it can send). Other capabilities are kept, not
used.

orqo reads one addition: a credential may say ``"required": false`` (default ``true``). Fields
orqo does not know are ignored, so adapters may add their own.
"""
from __future__ import annotations

from marshmallow import EXCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

_NAME = validate.Length(min=1, max=200)


class _StringOrNumber(fields.Field):
    """A version written as ``"1.0"`` or as ``1``; kept as text."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError("Must be a string or a number.")
        text = str(value)
        if not text or len(text) > 50:
            raise ValidationError("Must be 1 to 50 characters.")
        return text


class ManifestCredentialSchema(Schema):
    """One credential the adapter takes: the App's ``key`` is sent as ``maps_to``."""

    class Meta:
        unknown = EXCLUDE

    key = fields.String(required=True, validate=_NAME)
    maps_to = fields.String(required=True, validate=_NAME)
    type = fields.String(load_default="secret")
    label = fields.String(load_default="")
    required = fields.Boolean(load_default=True)


class ManifestSchema(Schema):
    """``GET /manifest.json`` of a remote adapter."""

    class Meta:
        unknown = EXCLUDE

    schema_version = _StringOrNumber(required=True)
    name = fields.String(required=True, validate=_NAME)
    description = fields.String(load_default="")
    icon = fields.String(load_default=None, allow_none=True)
    category = fields.String(load_default=None, allow_none=True)
    capabilities = fields.List(fields.String(validate=validate.Length(min=1, max=50)),
                               required=True, validate=validate.Length(max=50))
    credentials = fields.List(fields.Nested(ManifestCredentialSchema), required=True)
    # Free-form in ORQO's documentation (text, or steps): shown, never interpreted.
    setup_instructions = fields.Raw(load_default=None, allow_none=True)
    author = fields.Raw(load_default=None, allow_none=True)

    @validates_schema
    def _consistent(self, data, **kwargs):
        if "receive" not in data.get("capabilities", []):
            raise ValidationError("The adapter does not declare the 'receive' capability, so "
                                  "it cannot verify or parse webhooks.", "capabilities")
        credentials = data.get("credentials", [])
        for field in ("key", "maps_to"):
            names = [credential[field] for credential in credentials]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise ValidationError(f"Each credential {field} must be unique; repeated: "
                                      f"{', '.join(repeated)}.", "credentials")


class HealthSchema(Schema):
    """``GET /health`` of a remote adapter (the status is checked by the caller)."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(required=True)
    version = fields.String(required=True, validate=validate.Length(min=1, max=200))
    adapter = fields.String(load_default=None, allow_none=True)
