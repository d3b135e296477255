"""The send stage: one agent message through Slack's ``chat.postMessage``.

Sources: docs.slack.dev/reference/methods/chat.postMessage (arguments, the answer, the
errors; copied in slack-ruby/slack-api-ref ``methods/chat/chat.postMessage.json``),
api.slack.com/docs/rate-limits (HTTP 429 with ``Retry-After``), python-slack-sdk's
``tests/slack_sdk/web/mock_web_api_handler.py`` (the answers' real shapes).

The request: ``POST <api_base_url>/chat.postMessage`` with ``Authorization: Bearer
<SLACK_BOT_TOKEN>`` and the JSON body ``{"channel", "text", "thread_ts"?, "metadata"}``, where
``metadata`` is ``{"event_type": "orqo_message", "event_payload": {"orqo_message_id": <id>}}``:
Slack keeps it with the message, so a message posted by an attempt whose answer was lost can be
found again (Slack takes no idempotency key).

* **Where:** the request's ``chat_id``; else, for a reply, the received message's chat; else
  the user part of the recipient (orqo's Slack sender id is ``<team>:<user>``): posting to a
  user id opens the bot's DM with them.
* **Thread:** a reply goes into the received message's thread: ``thread_ts`` is its
  ``thread_id``, else (for a button press) the ts of the message carrying the button, else its
  own ts. Slack asks for the parent's ts, never a reply's, and ``thread_id`` is the parent's.
* **Sent:** ``{"ok": true, "channel", "ts"}`` gives ``platform_message_id`` = ``ts`` (what the
  parse stage gives for messages), ``chat_id`` = ``channel`` (a ``D…`` id for a DM),
  ``thread_id`` = ``thread_ts`` and ``reply_key`` = the thread's root (``thread_ts``, else
  ``ts``): a person's answer in that thread carries it as ``reply_to``. Slack's
  ``response_metadata.warnings`` (such as ``message_truncated``) are kept in ``meta``.

How Slack's answers map onto :class:`orqo.stages.SendResult` is :func:`result_of`.
"""
from __future__ import annotations

import re

from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo_slack.readers import SLACK_TS

BOT_TOKEN = "SLACK_BOT_TOKEN"
DEFAULT_API_BASE_URL = "https://slack.com/api"
#: Slack truncates ``text`` over 40,000 characters (it still posts, with a warning).
MAX_TEXT_LENGTH = 40000

#: Slack asks to slow down; ``Retry-After`` says for how long.
RATE_LIMITED = frozenset({"ratelimited", "rate_limited"})
#: Slack's own trouble, or a request body that arrived cut off: worth another attempt.
#: ``internal_error`` and ``fatal_error`` may have partly succeeded (Slack's words); the
#: ``metadata`` sent with every message is what tells a duplicate apart.
TRANSIENT = frozenset({"internal_error", "fatal_error", "request_timeout"})
#: The workspace is moving into an Enterprise organisation: the API comes back afterwards.
MIGRATING = frozenset({"team_added_to_org", "org_login_required"})
#: Slack gives no wait for a migration; orqo's first backoff steps would only fail again.
MIGRATION_WAIT = 600.0

#: What to do about the permanent errors worth a hint (any other code is given as it is).
HINTS = {
    "channel_not_found": "the channel does not exist or the bot cannot see it",
    "not_in_channel": "the bot is not a member of the channel: invite the App to it",
    "is_archived": "the channel is archived",
    "msg_too_long": "the text is too long",
    "no_text": "the message has no text",
    "too_many_attachments": "too many attachments",
    "restricted_action": "a workspace preference prevents the bot from posting",
    "restricted_action_read_only_channel": "the channel is read-only",
    "restricted_action_thread_only_channel": "the channel takes thread replies only",
    "restricted_action_non_threadable_channel": "the channel takes no thread replies",
    "ekm_access_denied": "administrators have suspended posting (EKM)",
    "not_authed": f"no token was sent: check {BOT_TOKEN}",
    "invalid_auth": f"Slack does not accept {BOT_TOKEN} (or the IP address is not allowed)",
    "account_inactive": f"{BOT_TOKEN} belongs to a deleted user or workspace",
    "token_revoked": f"{BOT_TOKEN} was revoked or the App was removed",
    "missing_scope": f"{BOT_TOKEN} lacks the chat:write scope",
    "no_permission": "the token may not post here: add the App to the conversation",
}

#: An error code as Slack writes them; anything else is not quoted as one.
ERROR_CODE = re.compile(r"[a-z0-9_.]{1,80}\Z")
#: How many of Slack's warnings are kept in a sent message's meta.
MAX_WARNINGS = 10


def send_message(request: SendRequest, http) -> SendResult:
    """Post ``request`` with ``chat.postMessage`` and read Slack's answer (module docstring)."""
    token = request.credentials.get(BOT_TOKEN)
    if not token:
        return SendResult.failed(f"the App has no {BOT_TOKEN}: add the bot token (xoxb-…) "
                                 "to its credentials to send")
    channel, thread_ts, problem = destination(request)
    if problem:
        return SendResult.failed(problem)
    body = {"channel": channel, "text": request.text,
            "metadata": {"event_type": "orqo_message",
                         "event_payload": {"orqo_message_id": request.message_id}}}
    if thread_ts:
        body["thread_ts"] = thread_ts
    base = (request.config.get("api_base_url") or DEFAULT_API_BASE_URL).rstrip("/")
    reply = http.post(f"{base}/chat.postMessage", json_body=body,
                      headers={"Authorization": f"Bearer {token}"})
    result = result_of(reply, channel, thread_ts)
    # A stand-in or a proxy could echo the request; a reason must never carry the token.
    result.reason = result.reason.replace(token, "[SLACK_BOT_TOKEN]")
    return result


def destination(request: SendRequest) -> tuple[str | None, str | None, str | None]:
    """``(channel, thread_ts, None)`` for ``request``, or ``(None, None, why not)``."""
    original = request.in_reply_to or {}
    channel = request.chat_id or _text(original.get("chat_id"))
    if not channel:
        # orqo's Slack sender id is "<team>:<user>"; the user id alone names the DM.
        channel = (request.recipient or "").rpartition(":")[2]
    if not channel:
        return None, None, "no channel to post to: the message has no chat and no recipient"
    if not request.in_reply_to:
        return channel, None, None
    extra = original.get("extra") if isinstance(original.get("extra"), dict) else {}
    # A button press's own id is its action_ts, not a message: its thread is the message
    # carrying the button (extra.message_ts, as orqo_slack.interactivity keeps it).
    thread_ts = (_text(original.get("thread_id")) or _text(extra.get("message_ts"))
                 or _text(original.get("platform_message_id")))
    if not thread_ts or not SLACK_TS.match(thread_ts):
        return None, None, ("the message replied to has no Slack ts to reply under "
                            "(in_reply_to needs a thread_id or platform_message_id such as "
                            "1717171717.000200)")
    return channel, thread_ts, None


def result_of(reply, channel: str, thread_ts: str | None) -> SendResult:
    """What Slack's answer to ``chat.postMessage`` means.

    * HTTP 429 (``ratelimited``), or the ``ratelimited`` error at any status: ``retry`` after
      ``Retry-After`` seconds.
    * HTTP 5xx, and the errors ``internal_error``, ``fatal_error``, ``request_timeout``:
      ``retry`` (orqo's backoff). ``team_added_to_org``/``org_login_required`` (an Enterprise
      migration): ``retry`` after :data:`MIGRATION_WAIT` seconds.
    * Any other ``{"ok": false, "error": ...}``: ``failed`` with the code (and a hint for the
      known ones: ``channel_not_found``, ``not_in_channel``, ``invalid_auth``...). A code this
      module does not know is taken as permanent too: Slack lists the transient ones, and
      retrying an unknown error for hours would only hide it.
    * A 2xx that is not ``{"ok": true, "ts": ...}`` (an HTML page, an empty body, ``ok``
      missing): ``retry``. Slack always answers its API in JSON, so such an answer came from
      something in between (a proxy, a captive portal, a maintenance page) and the message most
      likely never reached Slack; dropping it would lose it for good.
    * Any other status without Slack's JSON (404 from a wrong ``api_base_url``, 401/403 from
      a proxy): ``failed``, except 408 (``retry``).
    """
    status = reply.status_code
    document = reply.json()
    if not isinstance(document, dict):
        document = {}
    error = _code(document.get("error")) if document.get("ok") is False else None
    if status == 429 or error in RATE_LIMITED:
        return SendResult.retry(f"Slack rate limit (HTTP {status} {error or 'ratelimited'}): "
                                "chat.postMessage takes about one message per second per "
                                "channel", after=reply.retry_after())
    if status >= 500:
        return SendResult.retry(f"Slack is unavailable: {reply.excerpt()}")
    if document.get("ok") is False:
        return _error_result(error, reply)
    if 200 <= status < 300:
        return _sent_result(document, reply, channel, thread_ts)
    if status == 408:
        return SendResult.retry(f"Slack timed out reading the request: {reply.excerpt()}")
    return SendResult.failed(f"chat.postMessage answered without Slack's JSON: "
                             f"{reply.excerpt()} (check api_base_url)")


def _error_result(code: str | None, reply) -> SendResult:
    """``retry`` or ``failed`` for Slack's ``{"ok": false, "error": code}``."""
    if code is None:
        return SendResult.failed(f"Slack answered ok:false without an error code: "
                                 f"{reply.excerpt()}")
    if code in TRANSIENT:
        return SendResult.retry(f"Slack error {code}: a transient failure on Slack's side "
                                "(it may have partly succeeded)")
    if code in MIGRATING:
        return SendResult.retry(f"Slack error {code}: the workspace is migrating to an "
                                "Enterprise organisation", after=MIGRATION_WAIT)
    hint = HINTS.get(code) or (HINTS["restricted_action"]
                               if code.startswith("restricted_action") else None)
    return SendResult.failed(f"Slack error {code}" + (f": {hint}" if hint else ""))


def _sent_result(document: dict, reply, channel: str, thread_ts: str | None) -> SendResult:
    """``sent`` for ``{"ok": true, "channel", "ts"}``; ``retry`` for any other 2xx."""
    ts = document.get("ts")
    if document.get("ok") is not True or not isinstance(ts, str) or not SLACK_TS.match(ts):
        return SendResult.retry(f"chat.postMessage answered 2xx without ok:true and a ts: "
                                f"{reply.excerpt()}")
    # Posting to a user id lands in the DM: Slack names that channel (D…), as events do.
    answered_channel = _text(document.get("channel")) or channel
    meta = {}
    metadata = document.get("response_metadata")
    warnings = metadata.get("warnings") if isinstance(metadata, dict) else None
    if isinstance(warnings, list):
        kept = [code for code in map(_code, warnings[:MAX_WARNINGS]) if code]
        if kept:
            meta["slack_warnings"] = kept
    # An answer in the thread carries the thread's root as thread_ts (its reply_to).
    return SendResult.sent(ts, chat_id=answered_channel, thread_id=thread_ts,
                           reply_key=thread_ts or ts, meta=meta)


def _code(value) -> str | None:
    """``value`` when it reads as a Slack error or warning code, else None."""
    return value if isinstance(value, str) and ERROR_CODE.match(value) else None


def _text(value) -> str | None:
    """``value`` when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None
