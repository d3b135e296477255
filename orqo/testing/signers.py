"""Both sides of each signature scheme, written from the platforms' documentation, for tests.

Receiving (a platform sends to orqo): each ``*_headers`` function returns the headers a
platform would send with ``body``. Sending (orqo sends to a platform or a receiver): the
``verify_*`` functions and :func:`bearer_token` / :func:`telegram_bot_token` check what orqo
sent, as the receiver would. They are deliberately independent of orqo's own signing and
verification code, so a test checks one against the other.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import time
from typing import Iterable
from typing import Mapping

from standardwebhooks.webhooks import Webhook


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


# ---------------------------------------------------------------------------------------------
# The sending side: what a receiver of orqo's outbound HTTP checks
# ---------------------------------------------------------------------------------------------


class BadSignature(ValueError):
    """What orqo sent does not verify (the message says why, never quoting a secret)."""


def _pairs(headers) -> Iterable[tuple[str, str]]:
    return headers.items() if isinstance(headers, Mapping) else headers


def _one_header(headers, name: str) -> str:
    values = [value for key, value in _pairs(headers) if key.lower() == name.lower()]
    if len(values) != 1:
        raise BadSignature(f"{name} must be sent exactly once, not {len(values)} times")
    return values[0]


def _decoded(body: bytes):
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise BadSignature("the signed body is not JSON") from None


def verify_standard_webhooks(secret: str, headers, body: bytes):
    """Check a Standard Webhooks v1 request as its receiver does (with the public
    ``standardwebhooks`` library, as the spec recommends); return the body decoded as JSON.

    The counterpart of orqo's pushes to the agent runtime and of the custom adapter's signed
    replies. ``headers`` is a mapping (names in any case, as
    :class:`orqo.testing.platform.RecordedRequest` has them) or ``(name, value)`` pairs; the
    timestamp must be within five minutes of now (the library's window).

    :raises BadSignature: a header missing or sent twice, a stale or future timestamp, no
        matching signature, or a body that is not UTF-8 JSON.
    """
    names = ("webhook-id", "webhook-timestamp", "webhook-signature")
    sent = {name: _one_header(headers, name) for name in names}
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadSignature("the signed body is not UTF-8") from None
    try:
        Webhook(secret).verify(text, sent, json_parse=False)
    except Exception as exc:  # the library's WebhookVerificationError, or a malformed header
        raise BadSignature(f"the Standard Webhooks signature does not verify: {exc}") from None
    return _decoded(body)


def verify_hmac(secret: str, headers, body: bytes, header="X-Signature-256",
                algorithm="hmac-sha256", encoding="hex", prefix: str | None = None):
    """Check a request signed as :func:`hmac_headers` signs (the same parameters); return the
    body decoded as JSON.

    :raises BadSignature: the header missing or sent twice, a wrong prefix or digest, or a
        body that is not JSON.
    """
    digest_name = algorithm.removeprefix("hmac-")
    prefix = f"{digest_name}=" if prefix is None else prefix
    value = _one_header(headers, header)
    if not value.startswith(prefix):
        raise BadSignature(f"{header} does not start with {prefix!r}")
    try:
        given = (bytes.fromhex(value[len(prefix):]) if encoding == "hex"
                 else base64.b64decode(value[len(prefix):], validate=True))
    except (ValueError, binascii.Error):
        raise BadSignature(f"{header} is not {encoding}") from None
    if not hmac.compare_digest(given, _hmac(secret.encode(), body, digest_name)):
        raise BadSignature(f"{header} does not match the body")
    return _decoded(body)


def bearer_token(headers) -> str | None:
    """The token of the ``Authorization: Bearer <token>`` header sent once (how Slack's Web
    API and the WhatsApp Cloud API take theirs), or ``None``."""
    try:
        value = _one_header(headers, "Authorization")
    except BadSignature:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


TELEGRAM_METHOD_PATH = re.compile(r"/bot([^/]+)/([A-Za-z]+)$")


def telegram_bot_token(path: str) -> str | None:
    """The bot token in a Telegram Bot API path (``.../bot<token>/<method>``), or ``None``."""
    found = TELEGRAM_METHOD_PATH.search(path)
    return found.group(1) if found else None
