"""The custom adapter's signatures: the generic HMAC header and Standard Webhooks secrets.

Shared by both directions: deliveries are verified with them (:mod:`orqo_custom`) and replies
are signed with a Standard Webhooks secret (:mod:`orqo_custom.reply`).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

ALGORITHMS = {"hmac-sha1": hashlib.sha1, "hmac-sha256": hashlib.sha256,
              "hmac-sha512": hashlib.sha512}
WEBHOOK_ID = re.compile(r"^[^.\s]{1,256}$")
# ASCII digits only, and few of them: str.isdigit() takes "²" (which int() refuses) and int()
# of thousands of digits is refused or slow; 15 digits are more seconds than any clock needs.
UNIX_SECONDS = re.compile(r"[0-9]{1,15}\Z")


def standard_webhooks_key(secret) -> bytes | None:
    """The HMAC key of a ``whsec_`` secret, or None when it is not one (24 to 64 bytes)."""
    if not isinstance(secret, str) or not secret.startswith("whsec_"):
        return None
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return None
    return key if 24 <= len(key) <= 64 else None


def sign(secret: str, body: bytes, algorithm="hmac-sha256", encoding="hex", prefix=None) -> str:
    """The header value a sender puts on ``body``: ``sha256=<hex>`` with the defaults."""
    digest = hmac.new(secret.encode("utf-8"), body, ALGORITHMS[algorithm]).digest()
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode("ascii")
    if prefix is None:
        prefix = algorithm.removeprefix("hmac-") + "="
    return prefix + text
