"""Form fields from an adapter's marshmallow schemas, and the values a submitted form gives.

An App's credentials and config are what its adapter's ``credentials_schema`` and
``config_schema`` load; the console shows one input per schema field (credentials as password
inputs) and leaves empty inputs out, so the schema's own defaults apply.
"""
from __future__ import annotations

from dataclasses import dataclass

from marshmallow import fields
from marshmallow import missing
from marshmallow import validate


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
    """The inputs of one schema, in its declaration order."""
    result = []
    for name, field in schema_class().fields.items():
        if field.dump_only:
            continue
        choices = next((tuple(map(str, v.choices)) for v in _validators(field)
                        if isinstance(v, validate.OneOf)), ())
        if isinstance(field, fields.Boolean):
            kind = "checkbox"
        elif choices:
            kind = "select"
        elif isinstance(field, (fields.Integer, fields.Float, fields.Decimal)):
            kind = "number"
        else:
            kind = "password" if group == "credentials" else "text"
        default = field.load_default
        default = "" if default is missing or default is None or callable(default) else default
        result.append(FormField(group, name, kind, field.required, str(default), choices))
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


def _validators(field) -> list:
    return list(getattr(field, "validators", None) or [])
