"""Senders' side of each signature scheme, written from the platforms' documentation, for tests.

Each function returns the headers a platform would send with ``body``. They are deliberately
independent of the adapters' verification code, so a test checks one against the other.
"""
from __future__ import annotations

import base64
import hmac
import time


def _hmac(key: bytes, message: bytes, digest="sha256") -> bytes:
    return hmac.new(key, message, digest).digest()


def slack_headers(signing_secret: str, body: bytes, timestamp: float | None = None) -> dict:
    """Slack: ``X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:<ts>:<body>">``."""
    ts = str(int(time.time() if timestamp is None else timestamp))
    basestring = b"v0:" + ts.encode() + b":" + body
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + _hmac(signing_secret.encode(), basestring).hex(),
    }


def meta_headers(app_secret: str, body: bytes) -> dict:
    """Meta (WhatsApp Cloud API): ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of body>``."""
    return {"X-Hub-Signature-256": "sha256=" + _hmac(app_secret.encode(), body).hex()}


def telegram_headers(secret_token: str) -> dict:
    """Telegram: the ``secret_token`` given to setWebhook, sent as is on every update."""
    return {"X-Telegram-Bot-Api-Secret-Token": secret_token}


def hmac_headers(secret: str, body: bytes, header="X-Signature-256", algorithm="hmac-sha256",
                 encoding="hex", prefix: str | None = None) -> dict:
    """A generic HMAC sender (ORQO's "Receive Config"): ``sha256=<hex>`` by default."""
    digest_name = algorithm.removeprefix("hmac-")
    digest = _hmac(secret.encode(), body, digest_name)
    text = digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()
    return {header: (f"{digest_name}=" if prefix is None else prefix) + text}


def standard_webhooks_headers(secret: str, body: bytes, msg_id: str,
                              timestamp: float | None = None, extra_secrets=()) -> dict:
    """Standard Webhooks v1: ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.ts.body">``.

    ``secret`` is ``whsec_<base64 key>``; ``extra_secrets`` add more signatures to the header,
    space-separated, as a sender does while it rotates its secret.
    """
    ts = str(int(time.time() if timestamp is None else timestamp))
    signed = f"{msg_id}.{ts}.".encode() + body
    signatures = []
    for each in (secret, *extra_secrets):
        key = base64.b64decode(each.removeprefix("whsec_"))
        signatures.append("v1," + base64.b64encode(_hmac(key, signed)).decode())
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": " ".join(signatures)}
