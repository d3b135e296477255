"""Form fields from an adapter's marshmallow schemas, and the values a submitted form gives.

An App's credentials and config are what its adapter's ``credentials_schema`` and
``config_schema`` load; the console shows one input per schema field (credentials as password
inputs) and leaves empty inputs out, so the schema's own defaults apply.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

from orqo.adapters import describe_fields
from orqo.errors import ApiError


@dataclass(frozen=True)
class FormField:
    """One input: ``group`` is ``credentials`` or ``config``; ``kind`` is ``text``,
    ``password``, ``number``, ``checkbox`` or ``select`` (with ``choices``)."""

    group: str
    name: str
    kind: str
    required: bool
    default: str
    choices: tuple[str, ...] = ()

    @property
    def input_name(self) -> str:
        """The form's name for it: ``credentials.signing_secret``."""
        return f"{self.group}.{self.name}"


def schema_fields(group: str, schema_class) -> list[FormField]:
    """The inputs of one schema, in its declaration order, from the one description of an
    adapter's settings (:func:`orqo.adapters.describe_fields`, which ``orqo adapters show``
    and ``GET /api/v1/adapters`` print too)."""
    result = []
    for field in describe_fields(schema_class):
        choices = tuple(map(str, field["choices"] or ()))
        if field["type"] == "boolean":
            kind = "checkbox"
        elif choices:
            kind = "select"
        elif field["type"] in ("integer", "number"):
            kind = "number"
        else:
            kind = "password" if group == "credentials" else "text"
        default = field["default"]
        if default is None:
            default = ""
        elif isinstance(default, (dict, list)):
            default = json.dumps(default) if default else ""
        result.append(FormField(group, field["name"], kind, field["required"], str(default),
                                choices))
    return result


def adapter_fields(adapter) -> list[FormField]:
    """Every input of an App of ``adapter``: its credentials, then its config."""
    return (schema_fields("credentials", adapter.credentials_schema)
            + schema_fields("config", adapter.config_schema))


def submitted_settings(form, inputs: list[FormField]) -> tuple[dict, dict]:
    """``(credentials, config)`` from a submitted form: non-empty inputs only, numbers as
    numbers when they parse (else as given, for the schema to refuse with its message)."""
    values = {"credentials": {}, "config": {}}
    for item in inputs:
        if item.kind == "checkbox":
            values[item.group][item.name] = item.input_name in form
            continue
        raw = form.get(item.input_name, "").strip()
        if raw == "":
            continue
        if item.kind == "number":
            try:
                raw = int(raw)
            except ValueError:
                try:
                    raw = float(raw)
                except ValueError:
                    pass
        values[item.group][item.name] = raw
    return values["credentials"], values["config"]


#: The units the rotation form's grace period is given in, and their length in seconds.
GRACE_UNITS = {"minutes": 60, "hours": 3600}


def credential_fields(adapter) -> list[FormField]:
    """The inputs of an App's credentials alone (the rotation form): none is required there,
    since the keys left empty keep their value."""
    return [FormField(item.group, item.name, item.kind, False, "", item.choices)
            for item in schema_fields("credentials", adapter.credentials_schema)]


def grace_seconds(form) -> float:
    """The rotation form's "keep the old secret valid for" (``keep_for`` in ``keep_unit``) in
    seconds; 422 naming ``keep_previous_for`` when it is not a number of minutes or hours
    (the service checks its range)."""
    unit = GRACE_UNITS.get(form.get("keep_unit", ""))
    try:
        amount = float(form.get("keep_for", "").strip())
    except ValueError:
        amount = None
    if unit is None or amount is None or not math.isfinite(amount):
        raise ApiError(422, "validation_error", "The grace period is not valid.", {
            "keep_previous_for": ["Give a number of minutes or hours (0 ends the old "
                                  "credentials at once)."]})
    return amount * unit
