"""What a delivery carried, as the ledger keeps it: its headers with secrets redacted, and its
body cut to ``LEDGER_BODY_BYTES``.

This runs on the webhook path for every delivery, so it is one pass over the headers with one
precompiled pattern and one slice of the body; nothing is compiled or encoded per request.

* **headers** are a JSON object, name to value, in the order received. The WSGI server already
  joins a header sent on several lines into one value (``a, b``, as RFC 9110 allows), so an
  object loses nothing a list of pairs would keep. A header whose name holds ``auth``,
  ``cookie``, ``key``, ``password``, ``secret`` or ``token`` (any case: ``Authorization``,
  ``Proxy-Authorization``, ``Cookie``, ``X-Api-Key``, ``X-Telegram-Bot-Api-Secret-Token``...)
  has its value replaced by ``[redacted]``. Signature headers (``X-Slack-Signature``,
  ``X-Hub-Signature-256``, ``webhook-signature``) are not secrets: they only prove one body,
  and stay visible to help debugging.
* **body** is the raw body's first ``LEDGER_BODY_BYTES`` bytes decoded as UTF-8, each byte
  sequence that is not UTF-8 (a multi-byte character cut at the limit included) shown as
  U+FFFD, and U+0000 (which PostgreSQL's text cannot hold) as U+FFFD too.
* **body_bytes** is the whole body's size, kept even when ``LEDGER_BODY_BYTES`` is 0 (which
  keeps neither headers nor body).
"""
from __future__ import annotations

import re
from functools import lru_cache

from orqo.gunicorn_logging import HIDDEN
from orqo.messages import UNSTORABLE_CHARACTERS
from orqo.messages import clean_text

#: Header names whose values are credentials (searched, so ``X-Auth-Token`` matches too).
SECRET_NAME = re.compile(r"auth|cookie|key|password|secret|token", re.IGNORECASE)


@lru_cache(maxsize=512)
def is_secret(name: str) -> bool:
    """Whether a header called ``name`` carries a credential (senders repeat the same few
    names, so each is searched once)."""
    return SECRET_NAME.search(name) is not None


def redact_headers(headers) -> dict:
    """``headers`` (name, value pairs) as a JSON object with every secret value replaced by
    ``[redacted]`` (see the module docstring); a repeated name's values joined by ``, ``."""
    kept = {}
    for name, value in headers:
        shown = HIDDEN if is_secret(name) else value
        kept[name] = f"{kept[name]}, {shown}" if name in kept else shown
    # Values a database cannot store are rare: one search over them all, then per value.
    if UNSTORABLE_CHARACTERS.search("".join(kept.values())):
        kept = {name: clean_text(value) for name, value in kept.items()}
    return kept


def cut_body(body: bytes, limit: int) -> str:
    """The first ``limit`` bytes of ``body`` as text: cut on a byte boundary, then decoded with
    U+FFFD for whatever is not UTF-8 (so a character cut in two never raises)."""
    return clean_text(body[:limit].decode("utf-8", "replace"))


def carried(headers, body: bytes, limit: int) -> dict:
    """The ledger's ``headers``, ``body`` and ``body_bytes`` of one delivery, keeping at most
    ``limit`` bytes of its body (0: neither headers nor body, only the body's size)."""
    if not limit:
        return {"headers": None, "body": None, "body_bytes": len(body)}
    return {"headers": redact_headers(headers), "body": cut_body(body, limit),
            "body_bytes": len(body)}


def body_truncated(body: str | None, body_bytes: int | None) -> bool:
    """Whether the kept ``body`` is only the start of a body of ``body_bytes`` bytes.

    Exact for a UTF-8 body. Each U+FFFD may stand for one to three bytes that were not UTF-8,
    so it is counted as one: a body holding bytes that are not UTF-8 may be called truncated
    when it is whole, never the other way round.
    """
    if body is None or body_bytes is None:
        return False
    kept_at_least = len(body.encode("utf-8")) - 2 * body.count("\ufffd")
    return kept_at_least < body_bytes
