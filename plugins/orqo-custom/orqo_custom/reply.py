"""The custom adapter's send stage: an agent's message POSTed to the App's ``reply_url``.

orqo POSTs one JSON object per message, signed with Standard Webhooks (the public
``standardwebhooks`` library signs, so the receiver verifies with it or any other
implementation of the spec) with the App's ``reply_secret``::

    POST <reply_url>
    Content-Type: application/json; charset=utf-8
    webhook-id: msg_42
    webhook-timestamp: 1718000000
    webhook-signature: v1,<base64 HMAC-SHA256 of "msg_42.1718000000.<body>">

    {"type": "message.outbound", "app_id": "Ab3dE5", "message_id": 42,
     "recipient": "ada", "chat_id": "ops-room", "text": "Deploy is done ✅",
     "in_reply_to": {"platform_message_id": "m-17", "chat_id": "ops-room",
                     "thread_id": "ops-42", "extra": {}}}

``webhook-id`` is ``msg_<message_id>``, the same on every attempt, so the receiver can drop a
repeat. ``chat_id`` and ``in_reply_to`` are ``null`` when the message goes to the recipient
directly and answers nothing.

The answer decides what became of the message:

* 2xx: sent. A JSON body ``{"id": "..."}`` (a string or a number) names the message; without
  one (any other 2xx body) orqo names it ``orqo-<message_id>``. That name is what the sender
  puts at ``reply_to_pointer`` when it answers the message, to answer a waitbox bound to it.
* 408, 425, 429 and 5xx: retried later, after ``Retry-After`` when the answer has one.
* 410 and every other 4xx: failed, with the start of the answer as the reason; a redirect
  (3xx, never followed): failed, the reply URL must be the final one.
* No answer (refused, timed out): the request raises and orqo's worker retries.
"""
from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone

from standardwebhooks.webhooks import Webhook

from orqo.messages import MAX_ID
from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo_custom.signatures import standard_webhooks_key

#: What the POSTed object's ``type`` says.
OUTBOUND_TYPE = "message.outbound"
#: Answers besides 5xx that mean "try again later".
RETRY_STATUSES = frozenset({408, 425, 429})


def fallback_id(message_id: int) -> str:
    """The name of a sent message whose receiver gave it no id of its own."""
    return f"orqo-{message_id}"


def reply_body(request: SendRequest) -> dict:
    """The JSON object POSTed to the reply URL for ``request``."""
    return {
        "type": OUTBOUND_TYPE,
        "app_id": request.app_id,
        "message_id": request.message_id,
        "recipient": request.recipient,
        "chat_id": request.chat_id,
        "text": request.text,
        "in_reply_to": dict(request.in_reply_to) if request.in_reply_to else None,
    }


def signed_headers(secret: str, webhook_id: str, body: str, now: datetime) -> dict:
    """The Standard Webhooks headers of ``body`` (text, as sent) at ``now``."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
    }


def send_reply(request: SendRequest, http) -> SendResult:
    """POST ``request`` to the App's reply URL, signed; what the answer says became of it.

    ``failed`` at once, without a request, when the App has no reply URL or no usable
    ``reply_secret`` (settings saved through orqo always have both). A network failure
    raises :class:`requests.RequestException` (the worker retries).
    """
    url = request.config.get("reply_url")
    secret = request.credentials.get("reply_secret")
    if not url:
        return SendResult.failed("the App has no reply_url to send to: set the config "
                                 "reply_url (and the credential reply_secret)")
    if standard_webhooks_key(secret) is None:
        return SendResult.failed("the App's reply_secret is not a Standard Webhooks secret "
                                 "(whsec_ + base64 of 24 to 64 bytes)")
    body = json.dumps(reply_body(request), separators=(",", ":"), ensure_ascii=False)
    headers = signed_headers(secret, f"msg_{request.message_id}", body,
                             datetime.now(timezone.utc))
    reply = http.post(url, data=body.encode("utf-8"), headers=headers)
    return interpret_answer(reply, request)


def interpret_answer(reply, request: SendRequest) -> SendResult:
    """What the reply URL's answer (an :class:`orqo.outbound.Reply`) says of the message."""
    status = reply.status_code
    if 200 <= status < 300:
        return _sent(reply, request)
    reason = "the reply URL answered " + _redacted(reply.excerpt(), request.credentials)
    if status == 410:
        return SendResult.failed(reason + " (gone: the receiver takes no more messages)")
    if status >= 500 or status in RETRY_STATUSES:
        return SendResult.retry(reason, after=reply.retry_after())
    if 300 <= status < 400:
        return SendResult.failed(reason + " (a redirect, which orqo does not follow: set "
                                 "reply_url to the final URL)")
    return SendResult.failed(reason)


def _sent(reply, request: SendRequest) -> SendResult:
    """A 2xx: sent, named by the answer's ``id`` when it gives a usable one."""
    data = reply.json()
    given = data.get("id") if isinstance(data, dict) else None
    meta = {}
    name = None
    if isinstance(given, (str, int, float)) and not isinstance(given, bool):
        name = str(given)
        if not 0 < len(name) <= MAX_ID:
            name = None
    if name is None:
        if given is not None:
            meta["ignored_id"] = (f"the answer's id is not a string or number of 1 to {MAX_ID} "
                                  "characters")
        name = fallback_id(request.message_id)
    thread = (request.in_reply_to or {}).get("thread_id")
    return SendResult.sent(name, chat_id=request.chat_id or request.recipient,
                           thread_id=thread if isinstance(thread, str) and thread else None,
                           meta=meta)


def _redacted(text: str, credentials: dict) -> str:
    """``text`` with the App's secrets blanked, should the receiver echo one."""
    for value in credentials.values():
        if isinstance(value, str) and len(value) >= 4:
            text = text.replace(value, "[redacted]")
    return text
