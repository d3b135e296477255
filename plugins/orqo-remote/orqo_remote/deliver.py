"""The remote adapter's send stage: ``POST {url}/deliver`` of ORQO's HTTP adapter contract.

orqo POSTs the send request (:class:`orqo.schemas.SendRequestSchema`) with the App's
credentials renamed to the manifest's ``maps_to`` names and ``config`` set to the App's
``adapter_config``, as for ``/verify-webhook`` and ``/parse-inbound``::

    POST https://adapter.example/deliver
    {"app_id": "Ab3dE5", "adapter": "remote", "message_id": 42, "attempt": 1,
     "credentials": {"signing_secret": "...", "reply_secret": "whsec_..."},
     "config": {"reply_url": "https://replies.example/orqo"},
     "recipient": "ada", "chat_id": "ops-room", "text": "Deploy is done",
     "in_reply_to": {"platform_message_id": "m-17", "chat_id": "ops-room",
                     "thread_id": "ops-42", "extra": {}}}

and the adapter answers 200 with a :class:`orqo.schemas.SendResultSchema`, whatever became of
the message::

    {"status": "sent", "platform_message_id": "rcv-9", "chat_id": "ops-room",
     "thread_id": "ops-42", "reply_key": "rcv-9", "retry_after": null, "reason": "", "meta": {}}
    {"status": "retry", "retry_after": 7, "reason": "the reply URL answered HTTP 429"}
    {"status": "failed", "reason": "the reply URL answered HTTP 400: unknown recipient"}

What else becomes of the send:

* the adapter cannot be reached in time (``send_timeout``, 10 s by default, never past the
  worker's attempt), answers 5xx, 408, 425 or 429, or a 2xx that is not a send result (it may
  not have sent): ``retry``;
* 501 (an adapter without a send stage), any other 4xx, a redirect, an address orqo does not
  connect to, a URL the settings no longer allow: ``failed``, the adapter's error ``code`` and
  ``message`` (orqo's error shape) in the reason with the App's credentials blanked.
"""
from __future__ import annotations

import dataclasses
import json
import re

from marshmallow import ValidationError

from orqo.schemas import SendRequestSchema
from orqo.schemas import SendResultSchema
from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo_remote import client
from orqo_remote.client import RemoteAdapterError
from orqo_remote.client import redact

#: Seconds a send waits for the adapter by default (config ``send_timeout``).
SEND_TIMEOUT = 10.0
#: The config defaults, for an App saved before a setting existed.
CONNECT_TIMEOUT = 1.0
MAX_RESPONSE_BYTES = 1024 * 1024
#: The least time worth starting a send with.
MIN_SEND_SECONDS = 0.05
#: Answers besides 5xx (501 aside) that mean "try again later".
RETRY_STATUSES = frozenset({408, 425, 429})
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_SEND_REQUEST = SendRequestSchema()
_SEND_RESULT = SendResultSchema()


def outgoing_request(request: SendRequest) -> bytes:
    """The JSON POSTed for ``request``: credentials under the manifest's names, the App's
    ``adapter_config`` as config."""
    config = request.config
    mapping = config.get("credential_map") or {}
    outgoing = dataclasses.replace(
        request,
        credentials={mapping[k]: v for k, v in request.credentials.items() if k in mapping},
        config=dict(config.get("adapter_config") or {}))
    return json.dumps(_SEND_REQUEST.dump(outgoing)).encode("utf-8")


def deliver(session, request: SendRequest, http) -> SendResult:
    """POST ``request`` to the App's remote adapter; what its answer says became of it.

    Never raises for the adapter's failures: each is a ``retry`` or a ``failed`` result.
    ``http`` (the worker's :class:`orqo.outbound.Http`) bounds the time: the call ends when
    the attempt's time does, if that comes before ``send_timeout``.
    """
    config = request.config
    try:
        base_url = client.check_url(config.get("url"), client.allowed_hosts())
    except RemoteAdapterError as exc:
        return SendResult.failed(str(exc))
    where = f"remote adapter {base_url}: POST /deliver"
    seconds = min(config.get("send_timeout") or SEND_TIMEOUT, http.seconds_left())
    if seconds < MIN_SEND_SECONDS:
        return SendResult.retry(f"{where}: not sent, the attempt's time is used up.")
    try:
        status, body = client.call(
            session, "POST", base_url, "/deliver", payload=outgoing_request(request),
            deadline=client.clock() + seconds,
            connect_timeout=min(config.get("connect_timeout") or CONNECT_TIMEOUT, seconds),
            read_timeout=seconds, limit=config.get("max_response_bytes") or MAX_RESPONSE_BYTES)
    except RemoteAdapterError as exc:
        client.log_detail(exc)
        if exc.permanent:
            return SendResult.failed(str(exc))
        return SendResult.retry(str(exc))
    if 200 <= status < 300:
        return _result(where, body, request.credentials)
    return _refusal(where, status, body, request.credentials)


def _result(where: str, body: bytes, credentials: dict) -> SendResult:
    """A 2xx's send result; ``retry`` when it is not one (the message may not have gone)."""
    try:
        result = _SEND_RESULT.load(client.decode_json(body, where))
    except RemoteAdapterError as exc:
        return SendResult.retry(str(exc))
    except ValidationError as exc:
        return SendResult.retry(redact(f"{where}: not a valid send result: {exc.messages}",
                                       credentials))
    result.reason = redact(result.reason, credentials)
    return result


def _refusal(where: str, status: int, body: bytes, credentials: dict) -> SendResult:
    """A non-2xx answer: ``retry`` for the adapter's own trouble, else ``failed``."""
    try:
        data = client.decode_json(body, where)
    except RemoteAdapterError:  # an error page: its status says enough
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    error = error if isinstance(error, dict) else {}
    code = error.get("code")
    reason = f"{where} answered HTTP {status}"
    if isinstance(code, str) and _CODE.match(code):
        reason += f" ({code})"
    if isinstance(error.get("message"), str) and error["message"]:
        reason += f": {error['message']}"
    if isinstance(error.get("details"), dict) and error["details"]:
        reason += f" {json.dumps(error['details'], ensure_ascii=False)}"
    reason = redact(reason, credentials)
    if status != 501 and (status >= 500 or status in RETRY_STATUSES):
        return SendResult.retry(reason)
    return SendResult.failed(reason)
