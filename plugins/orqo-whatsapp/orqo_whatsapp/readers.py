"""Reading fields out of Meta's notification JSON, refusing what Meta could not have sent.

Every reader raises :class:`orqo.errors.MalformedDelivery` (answered 400, recorded
``malformed``) when a field has the wrong type or shape, so odd bodies never reach orqo's
message check as an exception. ``where`` is the path of the object read (``entry[0].changes
[0].value.messages[1]``); reasons name the field, never its value.
"""
from __future__ import annotations

import math

from orqo.errors import MalformedDelivery

MAX_ID = 512  # orqo's limit on ids (orqo.messages.MAX_ID)
#: The longest error title or details kept in a delivery's ``meta``.
MAX_ERROR_TEXT = 300


def shown(value) -> str:
    """A platform-chosen name (a type, a field) short enough to put in a reason."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def object_field(parent: dict, key: str, where: str, required=False) -> dict | None:
    """``parent[key]`` as an object; ``None`` when absent (unless ``required``)."""
    value = parent.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, dict):
        raise MalformedDelivery(f"{where}.{key} must be an object")
    return value


def list_field(parent: dict, key: str, where: str) -> list:
    """``parent[key]`` as a list; empty when absent."""
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedDelivery(f"{where}.{key} must be a list")
    return value


def text_field(parent: dict, key: str, where: str, required=False,
               max_length=None) -> str | None:
    """``parent[key]`` as a string (non-empty when ``required``); ``None`` when absent."""
    value = parent.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise MalformedDelivery(f"{where}.{key} must be a non-empty string" if required
                                else f"{where}.{key} must be a string")
    if max_length is not None and len(value) > max_length:
        raise MalformedDelivery(f"{where}.{key} is longer than {max_length} characters")
    return value


def number_field(parent: dict, key: str, where: str) -> int | float:
    """``parent[key]`` as a finite JSON number, as sent (an int stays an int)."""
    value = parent.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value):
        raise MalformedDelivery(f"{where}.{key} must be a number")
    return value


def sent_at(raw: dict, where: str, received_at: float) -> float:
    """A message's ``timestamp`` (a string of Unix seconds); ``received_at`` when absent."""
    value = raw.get("timestamp")
    if value is None:
        return float(received_at)
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        return float(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**12:
        return float(value)
    raise MalformedDelivery(f"{where}.timestamp must be Unix seconds")


def names(value: dict, where: str) -> dict[str, dict]:
    """``contacts[]`` by wa_id and by business-scoped user id: profile name and username."""
    found = {}
    for index, contact in enumerate(list_field(value, "contacts", where)):
        at = f"{where}.contacts[{index}]"
        if not isinstance(contact, dict):
            raise MalformedDelivery(f"{at} must be an object")
        profile = object_field(contact, "profile", at) or {}
        details = {"name": text_field(profile, "name", f"{at}.profile"),
                   "username": text_field(profile, "username", f"{at}.profile")}
        for key in ("wa_id", "user_id"):
            if text_field(contact, key, at):
                found[contact[key]] = details
    return found


def metadata(value: dict, where: str, entry: dict) -> dict:
    """The business's phone number and account the change was for, kept in ``extra``."""
    found = {}
    numbers = object_field(value, "metadata", where) or {}
    for key in ("phone_number_id", "display_phone_number"):
        if text_field(numbers, key, f"{where}.metadata") is not None:
            found[key] = numbers[key]
    if isinstance(entry.get("id"), str):
        found["business_account_id"] = entry["id"]
    return found


def errors(parent: dict, where: str) -> list[dict]:
    """``parent.errors[]`` (Meta's ``{code, title, message, error_data: {details}}``), each as
    ``{"code", "title", "details"}`` with what it has. Meta's error objects vary, so no field
    is required; an item that is not an object is malformed."""
    found = []
    for index, error in enumerate(list_field(parent, "errors", where)):
        if not isinstance(error, dict):
            raise MalformedDelivery(f"{where}.errors[{index}] must be an object")
        item = {}
        code = error.get("code")
        if isinstance(code, (int, str)) and not isinstance(code, bool):
            item["code"] = code if isinstance(code, int) else code[:32]
        title = error.get("title") if isinstance(error.get("title"), str) else error.get(
            "message")
        if isinstance(title, str) and title.strip():
            item["title"] = title.strip()[:MAX_ERROR_TEXT]
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, dict) else error.get("details")
        if isinstance(details, str) and details.strip():
            item["details"] = details.strip()[:MAX_ERROR_TEXT]
        found.append(item)
    return found


def error_text(error: dict) -> str:
    """``(#code) title`` of one error read by :func:`errors`."""
    code = f"(#{error['code']})" if "code" in error else "(no error code)"
    return f"{code} {error['title']}" if "title" in error else code
