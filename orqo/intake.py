"""One message's way in: read, gate, dedupe, limit, route, write.

Shared by the webhook pipeline (:mod:`orqo.webhooks`) and by replays of stored messages
(:func:`orqo.services.ledger.replay`), so both follow exactly the same rules:

1. **read** what routing needs, in one statement (:meth:`orqo.store.Store.read`);
2. **gate**: a sender who is not a registered Contact of the App is ``unknown_sender``;
3. **dedupe**: a message whose dedupe key was claimed already is ``duplicate``;
4. **limit**: a Contact past ``SENDER_RATE_LIMIT`` new messages in the last minute is
   ``throttled`` (answered 2xx all the same: a 4xx makes platforms retry or disable the App;
   a throttled message can be replayed once the flood is over). Under concurrency the count
   may be short by the messages in flight at the same moment;
5. **route**: the handlers decide (:func:`orqo.handlers.choose_route`);
6. **write** the message with its outcome, and what its route stores
   (:meth:`orqo.store.Store.write`). On SQLite the read and the write share one short
   transaction (:meth:`orqo.store.Store.admission`); on PostgreSQL the write is one statement
   that fails as a whole if the database changed since the read (a concurrent copy claimed the
   key, another worker answered the waitbox): then nothing was written, and the message is
   read and routed again.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from orqo.extensions import db
from orqo.handlers import Context
from orqo.handlers import choose_route
from orqo.messages import Message
from orqo.services.conversations import ROUTED_FIELDS
from orqo.store import Conflict
from orqo.store import Written
from orqo.store import Writes

#: Reads and writes of one message before giving up (each retry follows a conflict: another
#: worker took what this one was about to take).
ATTEMPTS = 5


class RoutingError(Exception):
    """A message could not be stored (no handler took it, or every attempt conflicted):
    nothing of it was written, so nothing may be acknowledged."""


@dataclass
class Admitted:
    """What became of one message."""

    outcome: str
    handler: str | None
    written: Written


def admit(state, flask_app, app, delivery: dict | int, message: Message, now: datetime, *,
          keep_duplicates: bool = True) -> Admitted | None:
    """Gate, dedupe, limit, route and store ``message`` of ``delivery`` (its row, or its id
    once stored) for the cached ``app``; ``state`` is the app's
    :class:`orqo.webhooks.Pipeline`.

    Returns None without writing anything for a duplicate when ``keep_duplicates`` is false
    (a replay of a message that was routed already). Raises :class:`RoutingError`.
    """
    _end_session_transaction(state)
    for _attempt in range(ATTEMPTS):
        try:
            with state.store.admission():
                admitted = _admit_once(state, flask_app, app, delivery, message, now,
                                       keep_duplicates)
        except Conflict:
            continue
        return admitted
    raise RoutingError(f"the message conflicted with concurrent writes {ATTEMPTS} times")


def _admit_once(state, flask_app, app, delivery, message, now, keep_duplicates):
    """One read, decision and write of ``message`` (see :func:`admit`)."""
    found = state.store.read(app.id, message, now)
    route, outcome, reason = None, "routed", ""
    if found.contact_id is None:
        outcome, reason = "unknown_sender", "the sender is not a registered Contact of this App"
    elif found.seen:
        if not keep_duplicates:
            return None
        outcome, reason = "duplicate", "already received"
    elif state.sender_limit and found.recent >= state.sender_limit:
        outcome = "throttled"
        reason = f"the Contact sent more than {state.sender_limit} new messages in a minute"
    else:
        context = Context(app, found.contact_id, found.waitbox_id, found.waitbox_reference,
                          found.conversation_id, found.session_id)
        route = choose_route(state.handlers, flask_app, message, context)
        if route is None:
            raise RoutingError("no handler took the message")
        outcome = route.outcome
    writes = _writes(state, app.id, delivery, message, found, outcome, reason, route, now)
    return Admitted(outcome, route.handler if route else None, state.store.write(writes))


def _end_session_transaction(state) -> None:
    """End a transaction a handler's reads began on the request's ORM session: handlers do
    not write (see the ``route_message`` hook), and on SQLite the transaction would hold the
    write lock this thread's write is about to take."""
    if state.store.postgres:
        return
    registry = db.session.registry
    if registry.has() and registry().in_transaction():
        db.session.rollback()


def _writes(state, app_id, delivery, message, found, outcome, reason, route, now) -> Writes:
    """The rows to store for ``message`` and its route."""
    row = message_row(app_id, message, found.contact_id, outcome, reason, now)
    writes = Writes(delivery=delivery, message=row)
    if route is None:
        return writes
    row.update(claimed=True, handler=route.handler, handler_ref=route.ref)
    details = dict(route.details)
    writes.waitbox_id = route.waitbox_id
    writes.runs = tuple(route.runs)
    if route.entry is not None:
        writes.entry = route.entry
        writes.new_session = route.entry == "control"
        if found.conversation_id is None or found.session_id is None:
            writes.conversation = {"app_id": app_id, "contact_id": found.contact_id,
                                   "chat_id": message.chat_id,
                                   "thread_key": message.thread_id or ""}
        else:
            writes.conversation_id, writes.session_id = found.conversation_id, found.session_id
            row["handler_ref"] = str(found.conversation_id)
            details.update(conversation_id=found.conversation_id, session_id=found.session_id)
    if writes.runs:
        writes.run_input = routed_message(row)
    if state.push_enabled and outcome == "routed":
        writes.push = {"type": "message.routed", "handler": route.handler, "route": details,
                       "message": routed_message(row)}
    return writes


def message_row(app_id: str, message: Message, contact_id, outcome: str, reason: str,
                now: datetime) -> dict:
    """The ledger row of ``message`` (claimed and routed by the caller, when it is)."""
    return {
        "app_id": app_id, "platform": message.platform, "kind": message.kind,
        "dedupe_key": message.dedupe_key, "platform_message_id": message.platform_message_id,
        "sender_id": message.sender_id, "sender_name": message.sender_name,
        "chat_id": message.chat_id, "thread_id": message.thread_id,
        "reply_to": message.reply_to, "text": message.text,
        "sent_at": message.sent_at, "action_id": message.action_id,
        "action_value": message.action_value,
        "attachments": [vars(attachment) for attachment in message.attachments],
        "extra": message.extra, "contact_id": contact_id, "outcome": outcome,
        "claimed": False, "reason": reason, "handler": None, "handler_ref": None,
        "created_at": now,
    }


def routed_message(row: dict) -> dict:
    """A message as the agent runtime reads it
    (:func:`orqo.services.conversations.describe_routed_message`), without its ``id``, which
    it gets once stored."""
    return {name: row[name] for name in ROUTED_FIELDS}
