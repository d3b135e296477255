"""The Telegram adapter's send stage: one agent message through the Bot API's ``sendMessage``.

Sources: the Bot API reference (core.telegram.org/bots/api, ``sendMessage``,
``ReplyParameters``, "Making requests", ``ResponseParameters``), the server's own error
answers (tdlib/telegram-bot-api) and the Bot FAQ on flood limits; the facts, with their
sources, are collected in orqo's outbound reference (issue 16).

The call: ``POST {api_base_url}/bot{TELEGRAM_BOT_TOKEN}/sendMessage`` with the JSON body
``{"chat_id", "text"}``. The token sits in the URL path, so the URL is never put in a reason,
and the token is cut out of everything that could end up in one (the platform's answer, a
network error's message).

Where it goes:

* ``chat_id``: the request's ``chat_id``; failing that, for a reply, the chat of the message
  it answers; failing that the recipient (a private chat's id is the user's id). A numeric
  id is sent as a number, anything else (``@channelusername``) as is.
* A reply (``in_reply_to`` given) carries ``reply_parameters``: the answered message's
  ``message_id`` (from its ``extra``, which the parse stage fills in) with
  ``allow_sending_without_reply: true``, so that an answer to a message deleted meanwhile is
  still delivered instead of failing for good. When the reply goes to another chat than the
  answered message's, ``reply_parameters.chat_id`` names that chat. A button press is
  answered as a reply to the message that carries the button.
* ``message_thread_id``: the answered message's forum topic, when it was in one
  (``is_topic_message``). Supergroups also put a ``message_thread_id`` on plain reply chains;
  that one is not echoed, as Telegram would refuse it ("message thread not found").

What the answer becomes (Telegram's ``{"ok": ..., "result" | "error_code", "description",
"parameters"}``; the HTTP status decides, as in python-telegram-bot, because Telegram says
``error_code``'s contents may change):

* ``{"ok": true, "result": <Message>}``: ``sent`` as ``"<chat_id>:<message_id>"``, the form the
  parse stage gives ``platform_message_id`` and, for an answer to this message, ``reply_to``
  (it is the reply key). ``chat_id`` is ``result.chat.id`` and ``thread_id`` what the parse
  stage would give the sent message.
* 429: ``retry`` after ``parameters.retry_after`` seconds (else the ``Retry-After`` header).
* 5xx (a 502 from Telegram's front end is HTML): ``retry``.
* 400 with ``parameters.migrate_to_chat_id`` (the group became a supergroup, with a new id):
  sent once more, in the same attempt, to the new chat; the result names the new chat and
  keeps both ids in ``meta``. Only one move is followed.
* Any other 400 ("chat not found", "message thread not found", "message is too long", ...),
  403 (the bot was blocked, kicked, the user deactivated) and other 4xx: ``failed`` with
  Telegram's description. 401 and 404: ``failed``, "the bot token was refused".
* Anything unreadable (not JSON, a 2xx without the sent message, a status Telegram does not
  use): ``retry``. Telegram always returns the sent message on success, so such an answer
  comes from something in between (a proxy, a wrong ``api_base_url``), and Telegram most likely
  never saw the message. The Bot API has no idempotency key nor a way to read a chat's
  history, so this cannot be checked; a rare duplicate is the price of not losing messages.
* No answer at all: the network error is raised (orqo retries), with the token cut out of it.
"""
from __future__ import annotations

import math
import re
from urllib.parse import quote

import requests

from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo_telegram.updates import chat_qualified

#: The Bot API's real base URL; ``api_base_url`` in the App's config replaces it.
DEFAULT_API_BASE_URL = "https://api.telegram.org"
BOT_TOKEN_KEY = "TELEGRAM_BOT_TOKEN"

#: Characters of Telegram's description kept in a reason.
_DESCRIPTION_CHARS = 300
# A chat id Telegram numbers (users, groups, channels); anything else is a @username.
_NUMERIC_CHAT = re.compile(r"-?[0-9]{1,20}\Z")
_QUALIFIED_ID = re.compile(r"(-?[0-9]{1,20}):([0-9]{1,20})\Z")
_REDACTED = "<TELEGRAM_BOT_TOKEN>"


def send_message(request: SendRequest, http) -> SendResult:
    """Send ``request.text`` with ``sendMessage`` (the rules in the module docstring)."""
    token = request.credentials.get(BOT_TOKEN_KEY)
    if not isinstance(token, str) or not token:
        return SendResult.failed(f"the App has no {BOT_TOKEN_KEY}: add the bot's token from "
                                 "BotFather to the App's credentials to send messages")
    body = message_body(request)
    if isinstance(body, str):
        return SendResult.failed(body)
    base = (request.config.get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")
    url = f"{base}/bot{token}/sendMessage"
    outcome = read_answer(_post(http, url, body, token))
    if isinstance(outcome, int):
        moved_from = body["chat_id"]
        if outcome == moved_from:
            return SendResult.failed("HTTP 400: Telegram asked to move the chat to itself")
        body = {**body, "chat_id": outcome}
        outcome = read_answer(_post(http, url, body, token))
        if isinstance(outcome, int):
            return SendResult.failed("HTTP 400: the chat moved twice in one attempt "
                                     f"(to {outcome})")
        if outcome.status == "sent":
            outcome.meta = {**outcome.meta, "migrated_from_chat_id": str(moved_from),
                            "migrated_to_chat_id": str(body["chat_id"])}
    outcome.reason = redact(outcome.reason, token)
    return outcome


def message_body(request: SendRequest) -> dict | str:
    """The ``sendMessage`` JSON body for ``request``, or why there is none."""
    replied = request.in_reply_to if isinstance(request.in_reply_to, dict) else None
    replied_chat = _text(replied.get("chat_id")) if replied else None
    target = _text(request.chat_id) or replied_chat or _text(request.recipient)
    if not target:
        return "no chat to send to: neither a chat id nor a recipient was given"
    body = {"chat_id": _chat(target), "text": request.text}
    if replied is None:
        return body
    extra = replied.get("extra") if isinstance(replied.get("extra"), dict) else {}
    same_chat = replied_chat is None or replied_chat == target
    message_id = _integer(extra.get("message_id"))
    if message_id is None:
        # A message stored without extra still names itself "<chat_id>:<message_id>".
        qualified = _QUALIFIED_ID.match(_text(replied.get("platform_message_id")) or "")
        if qualified and (replied_chat is None or qualified.group(1) == replied_chat):
            message_id = int(qualified.group(2))
    if message_id is not None:
        parameters = {"message_id": message_id, "allow_sending_without_reply": True}
        if not same_chat:
            parameters["chat_id"] = _chat(replied_chat)
        body["reply_parameters"] = parameters
    topic = _integer(extra.get("message_thread_id"))
    if topic is not None and extra.get("is_topic_message") is True and same_chat:
        body["message_thread_id"] = topic
    return body


def read_answer(reply) -> SendResult | int:
    """What Telegram's answer ``reply`` (an :class:`orqo.outbound.Reply`) means: a
    :class:`SendResult`, or the id of the chat to send to instead (a migrated group)."""
    answer = reply.json()
    answer = answer if isinstance(answer, dict) else {}
    status = reply.status_code
    if 200 <= status < 300:
        if answer.get("ok") is True:
            return _sent(answer.get("result")) or SendResult.retry(
                "Telegram's answer has no sent message (it may not have been sent): "
                + reply.excerpt())
        error_code = _integer(answer.get("error_code"))
        if answer.get("ok") is not False or error_code is None or not 400 <= error_code < 600:
            return SendResult.retry("an answer that is not Telegram's: " + reply.excerpt())
        status = error_code
    description = answer.get("description")
    said = (f"HTTP {status}: {description[:_DESCRIPTION_CHARS]}"
            if isinstance(description, str) and description.strip() else reply.excerpt())
    parameters = answer.get("parameters") if isinstance(answer.get("parameters"), dict) else {}
    if status == 429:
        wait = _seconds(parameters.get("retry_after"))
        return SendResult.retry(said, after=reply.retry_after() if wait is None else wait)
    if status >= 500:
        return SendResult.retry(said)
    if status in (401, 404):
        return SendResult.failed(f"the bot token was refused ({said})")
    moved_to = _integer(parameters.get("migrate_to_chat_id"))
    if status == 400 and moved_to is not None:
        return moved_to
    if 400 <= status < 500:
        return SendResult.failed(said)
    return SendResult.retry("an answer that is not Telegram's: " + reply.excerpt())


def redact(text: str, token: str) -> str:
    """``text`` with the bot token (whole, URL-encoded, or its secret part) cut out."""
    secret = token.partition(":")[2] or token
    for form in (token, quote(token, safe=""), secret):
        if form:
            text = text.replace(form, _REDACTED)
    return text


def _post(http, url: str, body: dict, token: str):
    """``http.post`` to ``url``; a network error is raised again without the token, which
    requests quotes from the URL ("Max retries exceeded with url: /bot<token>/...")."""
    try:
        return http.post(url, json_body=body)
    except requests.RequestException as exc:
        message = str(exc)
        if redact(message, token) == message:
            raise
        try:
            cleaned = type(exc)(redact(message, token))
        except Exception:  # an exception class that takes other arguments
            cleaned = requests.ConnectionError(redact(message, token))
        raise cleaned from None


def _sent(result) -> SendResult | None:
    """``sent`` for the Message Telegram returned, ``None`` when it is not one."""
    if not isinstance(result, dict) or not isinstance(result.get("chat"), dict):
        return None
    chat, message_id = _integer(result["chat"].get("id")), _integer(result.get("message_id"))
    if chat is None or message_id is None:
        return None
    chat_id = str(chat)
    replied = result.get("reply_to_message")
    replied_id = _integer(replied.get("message_id")) if isinstance(replied, dict) else None
    key = f"{chat_id}:{message_id}"
    return SendResult.sent(
        key, chat_id=chat_id, reply_key=key,
        thread_id=chat_qualified(chat_id, _integer(result.get("message_thread_id")), replied_id))


def _text(value) -> str | None:
    """``value`` as a non-empty string (ids may arrive as numbers), else ``None``."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).strip() if isinstance(value, (str, int)) else ""
    return text or None


def _chat(chat_id: str) -> int | str:
    return int(chat_id) if _NUMERIC_CHAT.match(chat_id) else chat_id


def _integer(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _seconds(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
