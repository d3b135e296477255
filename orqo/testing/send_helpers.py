"""Helpers of the send-stage suite (:mod:`orqo.testing.sending`), usable on their own: the
adapter of a plugin without an app, what a request carries, credentials in a result, and the
JSON mutations the suite's odd answers are made of."""
from __future__ import annotations

import copy
import json
from urllib.parse import parse_qsl
from urllib.parse import quote

from orqo.adapters import Adapter
from orqo.plugins import collect_adapters
from orqo.plugins import make_plugin_manager
from orqo.stages import SendResult
from orqo.testing.platform import Answer
from orqo.testing.platform import RecordedRequest


def load_adapter(plugin, platform: str) -> Adapter:
    """The adapter ``plugin`` registers for ``platform``, without an app or a database."""
    adapters, _ = collect_adapters(make_plugin_manager(load_entrypoints=False, plugins=[plugin]))
    if platform not in adapters:
        raise AssertionError(f"the plugin registers no {platform!r} adapter "
                             f"(it registers {sorted(adapters)})")
    return adapters[platform]


def credential_values(credentials) -> list[str]:
    """Every credential string worth looking for in a result: each value of six characters
    or more (shorter ones turn up by chance), as given and percent-encoded."""
    found = []
    values = credentials.values() if isinstance(credentials, dict) else credentials
    for value in values:
        if isinstance(value, dict):
            found += credential_values(value)
        elif isinstance(value, (list, tuple)):
            found += credential_values(list(value))
        elif isinstance(value, str) and len(value) >= 6:
            found += sorted({value, quote(value, safe="")})
    return found


def assert_no_credentials(result: SendResult, credentials: dict) -> None:
    """Fail when any credential value appears anywhere in ``result`` (its reason, ids, meta)."""
    shown = json.dumps([result.reason, result.platform_message_id, result.chat_id,
                        result.thread_id, result.reply_key, result.meta], default=str,
                       ensure_ascii=False)
    for value in credential_values(credentials):
        assert value not in shown, "a credential appears in the send result"


def strings_in(document) -> list[str]:
    """Every string in a JSON document, keys included."""
    if isinstance(document, str):
        return [document]
    if isinstance(document, dict):
        return [s for key, value in document.items() for s in (key, *strings_in(value))]
    if isinstance(document, list):
        return [s for value in document for s in strings_in(value)]
    return []


def carries_text(request: RecordedRequest, text: str) -> bool:
    """Whether ``request`` carries ``text`` whole: in a string of its JSON body, a value of
    its form body, or its raw body."""
    document = request.json()
    if document is not None:
        return any(text in value for value in strings_in(document))
    body = request.text()
    form = [value for _, value in parse_qsl(body, keep_blank_values=True)]
    return any(text in value for value in form) or text in body


def json_of(answer: Answer | None):
    """The JSON value of ``answer``'s body, or ``None`` (no answer, an empty or non-JSON body)."""
    try:
        return json.loads(answer.body) if answer is not None and answer.body else None
    except (ValueError, RecursionError):
        return None


def replace_leaves(document, leaf):
    """``document`` with every number, string, boolean and null replaced by ``leaf``."""
    if isinstance(document, dict):
        return {key: replace_leaves(value, leaf) for key, value in document.items()}
    if isinstance(document, list):
        return [replace_leaves(value, leaf) for value in document]
    return copy.deepcopy(leaf)


def quote_in_strings(document, quoted: str):
    """``document`` with ``quoted`` appended to every string value."""
    if isinstance(document, dict):
        return {key: quote_in_strings(value, quoted) for key, value in document.items()}
    if isinstance(document, list):
        return [quote_in_strings(value, quoted) for value in document]
    return f"{document} {quoted}" if isinstance(document, str) else document
