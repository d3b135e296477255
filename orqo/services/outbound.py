"""Messages agents send through the platforms: queueing one (``POST /api/v1/messages``,
``orqo messages send``), and reading any message back or listing them, inbound or outbound.

Queueing writes, in the caller's transaction, the message (``direction`` ``outbound``, no
delivery), its :class:`orqo.models.Send` row, and the waitbox bound to it when the agent
awaits the answer; ``orqo worker`` sends it (:mod:`orqo.services.sending`). Nothing leaves
orqo on the request path: a platform that is slow or down holds no API request.
"""
from __future__ import annotations

import math
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.messages import MAX_TEXT
from orqo.messages import clean_text
from orqo.models import App
from orqo.models import DIRECTIONS
from orqo.models import ContactChannel
from orqo.models import MessageRecord
from orqo.models import Send
from orqo.models import Waitbox
from orqo.models.sending import SEND_STATUSES
from orqo.models import as_utc
from orqo.models import utcnow
from orqo.services.conversations import describe_routed_message
from orqo.services.waitboxes import describe_waitbox

#: The longest a waitbox bound to a message may wait: the limit of ``POST /waitboxes``.
MAX_AWAIT_SECONDS = 30 * 86400


def invalid(field: str, problem: str) -> ApiError:
    """The 422 of a message that cannot be queued, naming the field."""
    return ApiError(422, "validation_error", "The message is not valid.", {field: [problem]})


def queue_message(app_id: str, contact_id: int, text: str, *, in_reply_to: int | None = None,
                  await_reply: dict | None = None) -> MessageRecord:
    """Queue ``text`` for ``contact_id`` through ``app_id``'s platform; the message's row.

    :param in_reply_to: the id of a message orqo received on the App: the reply goes in its
        chat and thread (or with its reply context).
    :param await_reply: ``{"expires_in": seconds, "reference": "..."}``: open a waitbox bound
        to this message; an answer that points at it (a reply, a thread reply) takes it first.

    The caller commits. 422 naming the field when the App is unknown or its adapter cannot
    send, the Contact has no Channel on it, the text is empty or longer than the platform
    takes, or ``in_reply_to`` is not a message received on the App; 409 ``app_disabled``
    when an operator turned the App off (messages queued before that are still sent).
    """
    app = db.session.get(App, app_id)
    if app is None:
        raise invalid("app_id", f"No App has the id {app_id!r}.")
    if not app.enabled:
        raise ApiError(409, "app_disabled", f"An operator turned App {app_id} off: nothing can "
                       f"be sent through it until it is turned on again (orqo apps enable "
                       f"{app_id}).")
    adapter = current_app.extensions["orqo"].adapters.get(app.adapter)
    if adapter is None:
        raise invalid("app_id", f"App {app_id!r} uses adapter {app.adapter!r}, which is not "
                                "installed.")
    if not adapter.can_send(app.config or {}):
        raise invalid("app_id", f"App {app_id!r} cannot send: its adapter {app.adapter!r} "
                                "does not send messages, or its config does not say where.")
    channel = db.session.query(ContactChannel).filter_by(app_id=app_id,
                                                         contact_id=contact_id).first()
    if channel is None:
        raise invalid("contact_id", f"Contact {contact_id} has no Channel on App {app_id!r}.")
    limit = min(adapter.max_text_length or MAX_TEXT, MAX_TEXT)
    if not text.strip():
        raise invalid("text", "Must not be empty.")
    if len(text) > limit:
        raise invalid("text", f"Longer than {limit} characters, the most {app.adapter} "
                              "takes in one message.")
    replied = _replied(app_id, in_reply_to) if in_reply_to is not None else None
    now = utcnow()
    message = MessageRecord(
        delivery_id=None, app_id=app_id, direction="outbound", platform=app.adapter,
        kind="message", dedupe_key="", platform_message_id="", sender_id="",
        chat_id=replied.chat_id if replied else "", thread_id=None,
        reply_to=replied.platform_message_id if replied else None, text=clean_text(text),
        sent_at=now.timestamp(), attachments=[], extra={}, contact_id=contact_id,
        outcome="outbound", claimed=False, reason="", created_at=now)
    db.session.add(message)
    db.session.flush()
    send = Send(message_id=message.id, app_id=app_id, recipient=channel.sender_id,
                pace_key=message.chat_id or channel.sender_id,
                in_reply_to=replied.id if replied else None, status="queued", attempts=0,
                next_attempt_at=now, last_error="", created_at=now)
    if await_reply is not None:
        waitbox = Waitbox(app_id=app_id, contact_id=contact_id, thread_id=None,
                          reference=await_reply.get("reference") or "",
                          expires_at=now + timedelta(seconds=_expires_in(await_reply)),
                          question_id=message.id, created_at=now)
        db.session.add(waitbox)
        db.session.flush()
        send.waitbox_id = waitbox.id
    db.session.add(send)
    db.session.flush()
    return message


def _replied(app_id: str, message_id: int) -> MessageRecord:
    """The received message an outbound one answers; 422 unless it was received on the App."""
    replied = db.session.get(MessageRecord, message_id)
    if replied is None or replied.app_id != app_id or replied.direction != "inbound":
        raise invalid("in_reply_to", f"No message received on App {app_id!r} has the id "
                                     f"{message_id}.")
    return replied


def _expires_in(await_reply: dict) -> float:
    seconds = await_reply.get("expires_in")
    if (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
            or not math.isfinite(seconds) or not 0 < seconds <= MAX_AWAIT_SECONDS):
        raise invalid("await_reply", f"expires_in must be above 0 and at most "
                                     f"{MAX_AWAIT_SECONDS} seconds.")
    return float(seconds)


def find_message(message_id: int) -> MessageRecord:
    """The message with this id, inbound or outbound; 404 when there is none."""
    message = db.session.get(MessageRecord, message_id)
    if message is None:
        raise ApiError(404, "not_found", f"No message has the id {message_id}.")
    return message


#: The ``status`` values of :func:`describe_message`: inbound messages are ``received``.
MESSAGE_STATUSES = ("received", *SEND_STATUSES)


def messages_query(app_id: str | None = None, status: str | None = None,
                   direction: str | None = None):
    """Messages (for pagination, ``(message, send)`` rows: give each to
    :func:`describe_message_row`), optionally of one App, one ``direction`` and one of
    :data:`MESSAGE_STATUSES`; 422 naming the filter for a value outside them."""
    errors = {}
    if status and status not in MESSAGE_STATUSES:
        errors["status"] = [f"Must be one of {', '.join(MESSAGE_STATUSES)}."]
    if direction and direction not in DIRECTIONS:
        errors["direction"] = [f"Must be one of {', '.join(DIRECTIONS)}."]
    if errors:
        raise ApiError(422, "validation_error", "The request is not valid.", errors)
    # Each send's attempt log in one more query per page, not one per message.
    query = (select(MessageRecord, Send).outerjoin(Send, Send.message_id == MessageRecord.id)
             .options(selectinload(Send.attempt_log)))
    if app_id:
        query = query.where(MessageRecord.app_id == app_id)
    # Rows written before outbound messages existed have no direction: they are inbound.
    # Filters that cannot meet (inbound and failed) both apply, and find nothing.
    if direction == "inbound" or status == "received":
        query = query.where(or_(MessageRecord.direction.is_(None),
                                MessageRecord.direction == "inbound"))
    if direction == "outbound" or status in SEND_STATUSES:
        query = query.where(MessageRecord.direction == "outbound")
    if status == "failed":  # describe_message calls an outbound message without a send failed
        query = query.where(or_(Send.status == "failed", Send.message_id.is_(None)))
    elif status in SEND_STATUSES:
        query = query.where(Send.status == status)
    return query


def describe_message_row(message: MessageRecord, _send: Send | None) -> dict:
    """A row of :func:`messages_query` as :func:`describe_message` shows it (its send was
    loaded with it, so describing it reads nothing more)."""
    return describe_message(message)


def describe_message(message: MessageRecord) -> dict:
    """Any message as the API shows it: what it says, which way it went and what became of
    it (``status``: ``received`` for an inbound message, with its ledger ``outcome``;
    ``queued``, ``sent`` or ``failed`` for an outbound one, with its attempts, last error
    and the waitbox bound to it)."""
    described = describe_routed_message(message)
    described["created_at"] = as_utc(message.created_at).isoformat()
    if described["direction"] == "inbound":
        described.update(status="received", outcome=message.outcome, handler=message.handler,
                         delivery_id=message.delivery_id)
        return described
    send = db.session.get(Send, message.id)
    waitbox = (db.session.get(Waitbox, send.waitbox_id)
               if send is not None and send.waitbox_id else None)
    described.update(
        platform_message_id=message.platform_message_id or None,
        chat_id=message.chat_id or None,
        status=send.status if send else "failed",
        attempts=send.attempts if send else 0,
        last_error=send.last_error if send else "",
        in_reply_to=send.in_reply_to if send else None,
        next_attempt_at=(as_utc(send.next_attempt_at).isoformat()
                         if send and send.status == "queued" else None),
        delivered_at=as_utc(send.sent_at).isoformat() if send and send.sent_at else None,
        waitbox=describe_waitbox(waitbox) if waitbox else None,
        attempt_log=[{"attempted_at": as_utc(a.attempted_at).isoformat(), "result": a.result,
                      "error": a.error, "duration_ms": a.duration_ms}
                     for a in (send.attempt_log if send else [])],
    )
    return described
