"""The send stage: one agent message through the WhatsApp Cloud API.

Sources: Meta's "Send text messages" and "Contextual replies" pages, the error codes page and
the throughput page (developers.facebook.com/documentation/business-messaging/whatsapp/...),
the Groups API's "Group messaging" page, the business-scoped user ID page, and the peers
quoted in orqo's ``outbound.md`` (pywa ``pywa/errors.py``, Chatwoot, Chat SDK).

* **The call.** ``POST {api_base_url}/{api_version}/{WHATSAPP_PHONE_NUMBER_ID}/messages`` with
  ``Authorization: Bearer <WHATSAPP_ACCESS_TOKEN>`` and the JSON body::

      {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "<wa_id>",
       "type": "text", "text": {"body": "..."}, "biz_opaque_callback_data": "orqo:<id>"}

  ``biz_opaque_callback_data`` (orqo's id of the outbound message) is echoed by Meta in the
  status webhooks of the message. A reply adds ``"context": {"message_id": "<wamid>"}`` with
  the ``platform_message_id`` of the received message it answers.
* **The recipient.** A group message's ``chat_id`` is its ``group_id`` (see
  :mod:`orqo_whatsapp.notifications`): when the request's ``chat_id`` differs from the
  recipient, the message goes to that group (``recipient_type: "group"``, ``to`` the group
  id; Meta: "The ``recipient_type`` field now supports ``group`` as well as ``individual``").
  A recipient that is a business-scoped user id (``US.1349...``, what the parse stage gives
  for a user whose number Meta withholds) goes in ``recipient`` instead of ``to``.
* **Success** is ``{"messaging_product": "whatsapp", "contacts": [...], "messages":
  [{"id": "wamid..."}]}``: the message is sent as ``messages[0].id``, which is also its reply
  key: a user's quoted reply carries it as ``context.id``, which the parse stage gives as
  ``reply_to``. HTTP 200 means accepted, not delivered; a later failure arrives as a status
  webhook. A 2xx answer without ``messages[0].id`` is a ``retry`` (Meta's answer says nothing
  about the message; the risk is a double send, the alternative a lost one).
* **Errors** are ``{"error": {"message", "type", "code", "error_data": {"details"},
  "fbtrace_id"}}``; Meta says to branch on ``code``, not on the HTTP status. Retried:
  130429 (throughput), 131056 (pair rate limit: after :data:`PAIR_RATE_LIMIT_WAIT` seconds,
  about Meta's one message per six seconds to one user), 4, 80007, 131057, 131000, 2, 131016
  and 131048 (spam rate limit; how long it lasts is not documented), after the answer's
  ``Retry-After`` when it has one (Meta sends none that we know of), else orqo's backoff.
  Failed at once with ``(#code) message: details``: the codes of :data:`PERMANENT` (closed
  window, undeliverable, bad parameters or template, token and permission errors, account
  integrity). Any other code: retried after an HTTP 5xx or 429, failed after anything else.
  An answer without a JSON error: 5xx, 429 and 408 are retried, other statuses fail.
* **The 24-hour window.** Outside the customer service window a free-form message fails with
  131047. When the App's config names a ``window_template`` (``name``, ``language``, and
  ``text_parameter`` to pass the text as the template's one body parameter), that template is
  sent instead, in the same attempt, and the result is ``sent`` with
  ``meta={"template": name}``. The template carries no ``context`` (Meta shows no quote bubble
  on a template reply). Meta refuses a template parameter holding a newline, a tab or more
  than four spaces in a row, so each run of white space in the text becomes one space there.
  Without a template, 131047 is ``failed`` with Meta's reason.
* **Secrets.** The token travels only in the header, and is cut out of every reason.
"""
from __future__ import annotations

import json
import re

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from orqo.stages import SendRequest
from orqo.stages import SendResult

ACCESS_TOKEN_KEY = "WHATSAPP_ACCESS_TOKEN"
PHONE_NUMBER_ID_KEY = "WHATSAPP_PHONE_NUMBER_ID"
DEFAULT_API_BASE_URL = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v25.0"
#: ``text.body`` takes at most 4,096 characters (Meta's "Send text messages").
MAX_TEXT_LENGTH = 4096
#: Seconds before a retry after 131056: Meta allows about one message per six seconds to one
#: user (dualhook.com and whatstool.business, quoting Meta).
PAIR_RATE_LIMIT_WAIT = 6.0
#: The prefix of ``biz_opaque_callback_data``: ``orqo:<outbound message id>``.
CALLBACK_PREFIX = "orqo:"

WINDOW_CLOSED = 131047
PAIR_RATE_LIMIT = 131056
#: Error codes worth another attempt (throughput, rate limits, Meta's transient trouble).
RETRYABLE = frozenset({130429, PAIR_RATE_LIMIT, 4, 80007, 131057, 131000, 2, 131016, 131048})
#: Error codes no retry can fix.
PERMANENT = frozenset({
    WINDOW_CLOSED, 131026, 131051, 100, 131008, 131009, 132000, 132001, 131062,  # the message
    0, 3, 10, 190, *range(200, 300),  # the token and its permissions
    368, 131031, 130497,  # the account's integrity
})
BSUID = re.compile(r"[A-Z]{2}\.(ENT\.)?[0-9A-Za-z]+\Z")
MAX_REASON = 500


class WindowTemplate(Schema):
    """The approved template sent when the 24-hour customer service window has closed."""

    #: The template's name as approved (lower case letters, digits and underscores).
    name = fields.String(required=True, validate=validate.Regexp(
        r"[a-z0-9_]{1,512}\Z", error="Must be an approved template's name (a-z, 0-9, _)."))
    #: The approved language, such as ``en_US`` or ``de``.
    language = fields.String(required=True, validate=validate.Regexp(
        r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,4})?\Z",
        error="Must be a template language code such as en_US or de."))
    #: Pass the message's text as the template's one body parameter ({{1}}).
    text_parameter = fields.Boolean(load_default=False)


class TemplateField(fields.Nested):
    """``window_template``: a :class:`WindowTemplate` object, or the same object as JSON text
    (``orqo apps create --config KEY=VALUE`` passes every value as text)."""

    def _deserialize(self, value, attr, data, partial=None, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value) if len(value) <= 4096 else None
            except ValueError:
                value = None
            if not isinstance(value, dict):
                raise ValidationError('Must be an object such as {"name": "reply_ready", '
                                      '"language": "en_US"}, or that object as JSON.')
        return super()._deserialize(value, attr, data, partial=partial, **kwargs)


#: A Graph API version such as ``v25.0``.
API_VERSION = validate.Regexp(r"v[0-9]{1,4}\.[0-9]{1,4}\Z",
                              error="Must be a Graph API version such as v25.0.")


def send_message(request: SendRequest, http) -> SendResult:
    """Send ``request`` as a text message (or the window template); see the module docstring."""
    credentials = request.credentials or {}
    token = credentials.get(ACCESS_TOKEN_KEY)
    phone_number_id = credentials.get(PHONE_NUMBER_ID_KEY)
    missing = [key for key, value in ((ACCESS_TOKEN_KEY, token),
                                      (PHONE_NUMBER_ID_KEY, phone_number_id)) if not value]
    if missing:
        return SendResult.failed(f"the App has no {' and no '.join(missing)}: WhatsApp needs "
                                 f"both {ACCESS_TOKEN_KEY} and {PHONE_NUMBER_ID_KEY} to send")
    if len(request.text) > MAX_TEXT_LENGTH:
        return SendResult.failed(f"the text is {len(request.text)} characters long; WhatsApp "
                                 f"takes at most {MAX_TEXT_LENGTH}")
    config = request.config or {}
    base = (config.get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")
    version = config.get("api_version") or DEFAULT_API_VERSION
    url = f"{base}/{version}/{phone_number_id}/messages"
    headers = {"Authorization": f"Bearer {token}"}
    chat_id, envelope = _envelope(request)

    reply = http.post(url, json_body={**envelope, **_text(request)}, headers=headers)
    result, code = _outcome(reply, token)
    meta = {}
    template = config.get("window_template")
    if code == WINDOW_CLOSED and template:
        reply = http.post(url, json_body={**envelope, **_template(template, request.text)},
                          headers=headers)
        result, code = _outcome(reply, token)
        if result.status != "sent":
            result.reason = _cut(f"outside the 24-hour window; the template "
                                 f"{template['name']!r} was not sent either: {result.reason}")
        meta = {"template": template["name"]}
    elif code == WINDOW_CLOSED:
        result.reason = _cut(f"{result.reason} (configure window_template to send an "
                             "approved template outside the 24-hour window)")
    if result.status != "sent":
        return result
    return SendResult.sent(result.platform_message_id, chat_id=chat_id,
                           reply_key=result.platform_message_id, meta=meta)


def _envelope(request: SendRequest) -> tuple[str, dict]:
    """The chat the message goes to and the body fields that address it."""
    envelope = {"messaging_product": "whatsapp",
                "biz_opaque_callback_data": f"{CALLBACK_PREFIX}{request.message_id}"}
    if request.chat_id and request.chat_id != request.recipient:
        return request.chat_id, {**envelope, "recipient_type": "group", "to": request.chat_id}
    key = "recipient" if BSUID.match(request.recipient) else "to"
    return request.recipient, {**envelope, "recipient_type": "individual",
                               key: request.recipient}


def _text(request: SendRequest) -> dict:
    body = {"type": "text", "text": {"body": request.text}}
    replied = request.in_reply_to.get("platform_message_id") \
        if isinstance(request.in_reply_to, dict) else None
    if isinstance(replied, str) and replied:
        body["context"] = {"message_id": replied}
    return body


def _template(template: dict, text: str) -> dict:
    content = {"name": template["name"], "language": {"code": template["language"]}}
    if template.get("text_parameter"):
        parameter = " ".join(text.split())
        content["components"] = [{"type": "body",
                                  "parameters": [{"type": "text", "text": parameter}]}]
    return {"type": "template", "template": content}


def _outcome(reply, secret: str) -> tuple[SendResult, int | None]:
    """What Meta's answer means, and its error code (``None`` without one)."""
    document = reply.json()
    error = document.get("error") if isinstance(document, dict) else None
    if isinstance(error, dict):
        return _error(error, reply, secret)
    status = reply.status_code
    if 200 <= status < 300:
        messages = document.get("messages") if isinstance(document, dict) else None
        first = messages[0] if isinstance(messages, list) and messages else None
        wamid = first.get("id") if isinstance(first, dict) else None
        if isinstance(wamid, str) and wamid:
            return SendResult.sent(wamid), None
        return SendResult.retry(_clean(f"WhatsApp's answer has no messages[0].id, so the "
                                       f"message may not have been sent: {reply.excerpt()}",
                                       secret)), None
    reason = _clean(f"WhatsApp answered {reply.excerpt()}", secret)
    if status >= 500 or status in (408, 429):
        return SendResult.retry(reason, after=reply.retry_after()), None
    return SendResult.failed(reason), None


def _error(error: dict, reply, secret: str) -> tuple[SendResult, int | None]:
    code = error.get("code")
    if isinstance(code, str) and code.isascii() and code.isdigit() and len(code) < 10:
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, int):
        code = None
    reason = _clean(_describe(error, code), secret)
    status = reply.status_code
    if code in RETRYABLE or (code not in PERMANENT and (status >= 500 or status == 429)):
        after = reply.retry_after()
        if code == PAIR_RATE_LIMIT:
            after = max(after or 0.0, PAIR_RATE_LIMIT_WAIT)
        return SendResult.retry(reason, after=after), code
    return SendResult.failed(reason), code


def _describe(error: dict, code: int | None) -> str:
    """``(#code) message: details``, from Meta's error object."""
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    message = message.strip() or (error.get("title") if isinstance(error.get("title"), str)
                                  else "") or "no message"
    prefix = f"(#{code})" if code is not None else "(no error code)"
    text = message if message.startswith(prefix) else f"{prefix} {message}"
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    if isinstance(details, str) and details.strip() and details.strip() not in text:
        text = f"{text}: {details.strip()}"
    return text


def _clean(text: str, secret: str) -> str:
    """``text`` without the token, one line, cut to :data:`MAX_REASON` characters."""
    if secret:
        text = text.replace(secret, "[token]")
    return _cut(" ".join(text.split()))


def _cut(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[:MAX_REASON - 3] + "..."
