"""Sending the messages agents queue (:mod:`orqo.services.outbound`) through the platforms:
``orqo worker``'s part, beside the push outbox (:mod:`orqo.services.push`), with the same
leasing.

* **Order and pace.** Per App and chat (``pace_key``) only the oldest queued message is due,
  so one chat's messages arrive in the order they were queued (a message waiting for its
  retry holds the later ones back), and none is sent before ``pace_until`` of the last one
  sent there: the adapter's ``send_interval`` (Slack and Telegram ask for about one message
  a second per chat).
* **An attempt.** The ``send_message`` hooks may refuse or hold the message; then the App's
  adapter sends it (:meth:`orqo.adapters.Adapter.send`) with an :class:`orqo.outbound.Http`
  bounded by ``SEND_TIMEOUT`` and the lease.
* **What it becomes.** ``sent``: the platform's id, chat and thread are stored on the message,
  the waitbox bound to it learns its ``reply_key``, and the message joins the Contact's
  conversation (an ``outbound`` entry). ``retry``: attempted again after the platform's wait
  (``Retry-After``, Telegram's ``retry_after``) or an exponential backoff with jitter, until
  ``SEND_MAX_ATTEMPTS``; then ``failed``. ``failed``: the platform's reason is kept, and the
  waitbox bound to it is cancelled (nobody will answer a question that never arrived).
  An operator can queue a failed message again (:func:`retry`: the console, the API, the CLI).

A message is sent at least once: a worker that dies after the platform took a message but
before recording it leaves the lease to run out, and the message is sent again. The adapters
give the platform what it needs to spot that (Slack ``metadata``, the custom adapter's
``webhook-id``, WhatsApp's ``biz_opaque_callback_data``).
"""
from __future__ import annotations

import logging
import random
import time
from datetime import timedelta

import requests
from flask import current_app
from sqlalchemy import exists
from sqlalchemy import or_
from sqlalchemy import update
from sqlalchemy.orm import aliased

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import App
from orqo.models import ConversationEntry
from orqo.models import MessageRecord
from orqo.models import Send
from orqo.models import SendAttempt
from orqo.models import Waitbox
from orqo.models import utcnow
from orqo.outbound import Http
from orqo.services.conversations import open_conversation
from orqo.services.leasing import lease_rows
from orqo.services.push import MIN_ATTEMPT_SECONDS
from orqo.services.push import RECORD_MARGIN_SECONDS
from orqo.stages import SendRequest
from orqo.stages import SendResult

logger = logging.getLogger(__name__)

#: Characters of a reason kept as the message's ``last_error``.
MAX_REASON = 1000


def claim_due(limit: int, lease_seconds: float) -> list[int]:
    """Lease up to ``limit`` due messages to this worker (see the module docstring); their
    ids, oldest due first."""
    now = utcnow()
    other = aliased(Send)
    same_chat = (other.app_id == Send.app_id, other.pace_key == Send.pace_key)
    ids, _token, _until = lease_rows(
        Send,
        ready=[Send.status == "queued", Send.next_attempt_at <= now,
               or_(Send.lease_until.is_(None), Send.lease_until < now),
               ~exists().where(*same_chat, other.status == "queued",
                               other.message_id < Send.message_id),
               ~exists().where(*same_chat, other.status == "sent", other.pace_until > now)],
        order_by=[Send.next_attempt_at, Send.message_id], limit=limit,
        lease_seconds=lease_seconds)
    db.session.commit()
    return ids


def process_due(session: requests.Session, limit: int = 20) -> int:
    """Send the due messages this worker can lease now, one after another; how many were
    attempted. Those left when too little of the lease remains are handed back unsent."""
    config = current_app.config
    lease = config["SEND_LEASE_SECONDS"]
    margin, shortest = min(RECORD_MARGIN_SECONDS, lease / 4), min(MIN_ATTEMPT_SECONDS, lease / 4)
    sendable_until = time.monotonic() + lease - margin
    leased = claim_due(limit, lease)
    for done, message_id in enumerate(leased):
        seconds = min(config["SEND_TIMEOUT"], sendable_until - time.monotonic())
        if seconds < shortest:
            release(leased[done:])
            return done
        send_one(session, message_id, seconds)
    return len(leased)


def release(message_ids: list[int]) -> None:
    """Hand leased messages back unsent: due again at once, for any worker."""
    if message_ids:
        db.session.execute(update(Send.__table__)
                           .where(Send.message_id.in_(message_ids), Send.status == "queued")
                           .values(lease_until=None))
        db.session.commit()


def send_one(session: requests.Session, message_id: int, seconds: float) -> str:
    """One attempt of a leased message, recorded; the message's status after it."""
    send = db.session.get(Send, message_id)
    message = db.session.get(MessageRecord, message_id)
    app = db.session.get(App, send.app_id) if send is not None else None
    if send is None or message is None or app is None:  # deleted with its App meanwhile
        db.session.rollback()
        return "gone"
    replied = db.session.get(MessageRecord, send.in_reply_to) if send.in_reply_to else None
    request = SendRequest(
        app_id=app.id, adapter=app.adapter, credentials=dict(app.credentials or {}),
        config=dict(app.config or {}), message_id=message.id, recipient=send.recipient,
        text=message.text, chat_id=message.chat_id or None,
        in_reply_to=None if replied is None else {
            "platform_message_id": replied.platform_message_id, "chat_id": replied.chat_id,
            "thread_id": replied.thread_id, "extra": dict(replied.extra or {})},
        attempt=send.attempts + 1)
    db.session.rollback()  # no transaction stays open while the platform answers
    state = current_app.extensions["orqo"]
    adapter = state.adapters.get(app.adapter)
    started = time.monotonic()
    result = attempt(state.pm, adapter, request, Http(
        session, seconds, current_app.config["SEND_CONNECT_TIMEOUT"]))
    return record(message_id, result, adapter, (time.monotonic() - started) * 1000)


def attempt(pm, adapter, request: SendRequest, http: Http) -> SendResult:
    """Ask the ``send_message`` hooks, then the adapter; whatever goes wrong is a result,
    and no reason it gives quotes one of the App's credentials."""
    result = _attempt(pm, adapter, request, http)
    for value in request.credentials.values():
        if isinstance(value, str) and len(value) >= 4 and value in result.reason:
            result.reason = result.reason.replace(value, "[redacted]")
    return result


def _attempt(pm, adapter, request: SendRequest, http: Http) -> SendResult:
    if adapter is None:
        return SendResult.retry(f"adapter {request.adapter!r} is not installed")
    try:
        for held in pm.hook.send_message(request=request, adapter=adapter):
            if isinstance(held, SendResult) and held.status != "sent":
                return held
            if held is not None:
                logger.warning("a send_message hook answered %r, which is not a refusal; "
                               "ignored", held)
    except Exception as exc:  # noqa: BLE001 - a plugin's failure holds the message back
        logger.exception("a send_message hook failed")
        return SendResult.retry(f"a send_message hook failed: {type(exc).__name__}")
    try:
        result = adapter.send(request, http)
    except requests.RequestException as exc:
        return SendResult.retry(f"the platform could not be reached: {type(exc).__name__}")
    except Exception as exc:  # noqa: BLE001 - the adapter's bug must not stop the worker
        logger.exception("adapter %r failed to send message %s", request.adapter,
                         request.message_id)
        return SendResult.retry(f"the {request.adapter} adapter failed: {type(exc).__name__}")
    if not isinstance(result, SendResult) or (result.status == "sent"
                                              and not result.platform_message_id):
        return SendResult.retry(f"the {request.adapter} adapter answered {type(result).__name__}"
                                ", not a SendResult with the platform's message id")
    return result


def record(message_id: int, result: SendResult, adapter, duration_ms: float = 0.0) -> str:
    """Store what one attempt became (see the module docstring), with a line in the
    message's attempt log (:class:`orqo.models.SendAttempt`); the message's status."""
    config = current_app.config
    now = utcnow()
    send = db.session.get(Send, message_id)
    if send is None:  # deleted with its App while the platform answered
        db.session.rollback()
        return "gone"
    send.attempts += 1
    send.lease_until = None
    status = result.status
    if status == "retry" and send.attempts >= config["SEND_MAX_ATTEMPTS"]:
        status = "failed"
    if status == "sent":
        _sent(send, result, now, getattr(adapter, "send_interval", 0.0))
    elif status == "retry":
        send.last_error = result.reason[:MAX_REASON]
        send.next_attempt_at = now + timedelta(seconds=backoff(send.attempts, result, config))
    else:
        send.status, send.last_error, send.next_attempt_at = "failed", result.reason[:MAX_REASON], now
        if send.waitbox_id:
            db.session.execute(update(Waitbox.__table__).where(
                Waitbox.id == send.waitbox_id, Waitbox.status == "waiting"
            ).values(status="cancelled"))
    db.session.add(SendAttempt(message_id=message_id, attempted_at=now, result=status,
                               error="" if status == "sent" else result.reason[:MAX_REASON],
                               duration_ms=round(duration_ms, 3)))
    db.session.commit()
    return send.status


def retry(message_id: int) -> Send:
    """Queue a failed outbound message again, due now with a fresh attempt budget (its last
    error is kept until the next attempt; a waitbox cancelled by the failure stays cancelled).
    404 when no message has the id; 409 when it is not outbound or not ``failed``."""
    message = db.session.get(MessageRecord, message_id)
    if message is None:
        raise ApiError(404, "not_found", f"No message has the id {message_id}.")
    send = db.session.get(Send, message_id) if message.direction == "outbound" else None
    if send is None:
        raise ApiError(409, "conflict", f"Message {message_id} is not an outbound message "
                       "with a send to retry.")
    # A conditional UPDATE: two operators retrying at once queue it once, and a send the
    # worker is recording is never reset under it.
    retried = db.session.execute(
        update(Send.__table__).where(Send.message_id == message_id, Send.status == "failed")
        .values(status="queued", attempts=0, next_attempt_at=utcnow(), lease_until=None)
        .returning(Send.message_id)).first()
    db.session.commit()
    if retried is None:
        db.session.refresh(send)
        raise ApiError(409, "conflict", f"Message {message_id} is {send.status}, not failed: "
                       "only a failed send can be retried.")
    db.session.refresh(send)
    return send


def backoff(attempts: int, result: SendResult, config) -> float:
    """Seconds before the next attempt: the platform's wait, or exponential with jitter."""
    cap = config["SEND_BACKOFF_MAX"]
    if result.retry_after is not None:
        return min(max(result.retry_after, 0.0), cap)
    return min(cap, config["SEND_BACKOFF_BASE"] * 2 ** (attempts - 1)) * random.uniform(0.5, 1.0)


def _sent(send: Send, result: SendResult, now, interval: float) -> None:
    """The message was sent: store the platform's ids, bind its waitbox, add it to the
    Contact's conversation."""
    message = db.session.get(MessageRecord, send.message_id)
    message.platform_message_id = result.platform_message_id[:512]
    message.chat_id = (result.chat_id or message.chat_id or send.recipient)[:512]
    message.thread_id = result.thread_id[:512] if result.thread_id else None
    message.sent_at = now.timestamp()
    if result.meta:
        message.extra = {**(message.extra or {}), "send": result.meta}
    send.status, send.sent_at, send.last_error, send.next_attempt_at = "sent", now, "", now
    send.pace_until = now + timedelta(seconds=interval or 0)
    if send.waitbox_id and result.reply_key:
        db.session.execute(update(Waitbox.__table__).where(Waitbox.id == send.waitbox_id)
                           .values(reply_key=result.reply_key[:512]))
    replied = db.session.get(MessageRecord, send.in_reply_to) if send.in_reply_to else None
    key = {"app_id": send.app_id, "contact_id": message.contact_id,
           "chat_id": replied.chat_id if replied else message.chat_id,
           "thread_key": (replied.thread_id or "") if replied else ""}
    if message.contact_id is not None:
        conversation_id, session_id = open_conversation(db.session.connection(), key, now)
        db.session.add(ConversationEntry(conversation_id=conversation_id, session_id=session_id,
                                         message_id=message.id, status="outbound", claims=0,
                                         created_at=now))
