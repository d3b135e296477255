"""What the console's list pages share: reading their filters from the query string (a bad
value is an error on the page, never a 5xx), the link to the next page, and where a button's
POST goes back to."""
from __future__ import annotations

from flask import request
from flask import url_for

#: Rows per page on the console's lists.
PAGE_SIZE = 100


def text_arg(name: str, limit: int = 64) -> str | None:
    """A query-string value, trimmed and cut to ``limit`` characters; None when empty."""
    return request.args.get(name, "").strip()[:limit] or None


def choice_arg(name: str, choices, errors: dict) -> str | None:
    """A query-string value among ``choices``; another value is dropped with an error."""
    given = text_arg(name)
    if given and given not in choices:
        errors[name] = f"Not one of {', '.join(choices)}."
        return None
    return given


def id_arg(name: str, errors: dict) -> int | None:
    """A query-string id (ASCII digits); another value is dropped with an error."""
    given = text_arg(name)
    if given and not (given.isascii() and given.isdigit() and len(given) <= 18):
        errors[name] = "Give a number."
        return None
    return int(given) if given else None


def older_url(endpoint: str, next_cursor: str | None, filters: dict, **values) -> str | None:
    """The link to the next page of a list (its filters kept), or None on the last page."""
    if not next_cursor:
        return None
    kept = {key: value for key, value in filters.items() if value not in (None, "")}
    return url_for(endpoint, cursor=next_cursor, **kept, **values)


def console_path(target: str | None) -> bool:
    """Whether ``target`` is a path inside the console, safe to redirect to (never an open
    redirect to another site: no ``//host`` and no backslash, which browsers read as ``/``)."""
    return bool(target) and target.startswith("/console/") and "\\" not in target


def back_url(default: str) -> str:
    """Where a POST returns: the form's ``back`` field when it is a console path, else
    ``default``."""
    back = request.form.get("back", "")
    return back if console_path(back) else default

