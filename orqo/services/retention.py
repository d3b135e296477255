"""Retention: the rows orqo deletes once they are old enough, and the ones it keeps.

Removed, each by its rule in :data:`RULES` (the settings are in docs/configuration.md):

* **waitboxes** that expired more than ``RETENTION_LEDGER_DAYS`` ago (answered, cancelled or
  not), then
* **the ledger**: deliveries received more than ``RETENTION_LEDGER_DAYS`` ago, with their
  messages and what hangs on those messages: their conversation entries (a conversation's
  history is its messages, so it goes with the ledger; the conversation and its sessions
  stay), their pushes and the pushes' attempts. A delivery stays, whole, while one of its
  messages is still in use: its push is ``pending`` (due or leased), its conversation entry is
  in Doorkeeper's queue (``queued`` or ``claimed``), or a waitbox that is kept holds it;
* **outbound messages** (what agents sent through the platforms) queued more than
  ``RETENTION_LEDGER_DAYS`` ago and ``sent`` or ``failed``, with their send rows and
  conversation entries (one still queued is never removed);
* **pushes** ``delivered`` or ``dead`` more than ``RETENTION_PUSHES_DAYS`` ago, with their
  attempts (a ``pending`` push is never removed);
* **idempotency records** older than ``RETENTION_IDEMPOTENCY_HOURS``, but never one that
  :mod:`orqo.services.idempotency` would still replay;
* **rate counters** of windows that ended (:mod:`orqo.services.rate_limits`).

* **rejection counts** (:mod:`orqo.rejections`) last added to more than
  ``RETENTION_LEDGER_DAYS`` ago.

Never removed: workflow runs (the executor's record, holding their own copy of their input),
Apps, Contacts, tokens, workflows and triggers, conversations and their sessions. Removing the
newest rows frees no id: SQLite's tables say AUTOINCREMENT, PostgreSQL's sequences never go
back, so a push's ``webhook-id`` is never handed out twice.

Each rule deletes in batches, each batch its own short transaction (a batch that takes too
long makes the next one smaller), children before parents (so the counts are exact and no
foreign key's ON DELETE is relied on); on PostgreSQL a batch skips rows another pruner has
locked.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import Callable
from typing import Mapping

from sqlalchemy import delete
from sqlalchemy import exists
from sqlalchemy import func
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import tuple_

from orqo.extensions import db
from orqo.models import ConversationEntry
from orqo.models import Delivery
from orqo.models import IdempotencyRecord
from orqo.models import MessageRecord
from orqo.models import PushAttempt
from orqo.models import PushDelivery
from orqo.models import RateCounter
from orqo.models import Rejection
from orqo.models import Send
from orqo.models import SendAttempt
from orqo.models import Waitbox
from orqo.models import utcnow
from orqo.services import idempotency
from orqo.services import rate_limits

#: Rows of a rule's main table removed per transaction: at most...
BATCH_SIZE = 500
#: ...starting with this many...
FIRST_BATCH_SIZE = 50
#: ...and fewer while a batch takes longer than this many seconds (down to
#: :data:`MIN_BATCH_SIZE`): on SQLite every webhook waits while a batch holds the write lock.
BATCH_SECONDS = 0.25
MIN_BATCH_SIZE = 10
#: The ledger is kept at least this long, whatever ``RETENTION_LEDGER_DAYS`` says (but 0): a
#: claimed message is what makes a platform's redelivery a duplicate, and Meta redelivers for
#: up to 7 days (docs/reliability.md).
MIN_LEDGER_DAYS = 7


@dataclass(frozen=True)
class Rule:
    """One kind of row retention removes.

    :param name: what the rule is called in logs.
    :param cutoff: ``(config, now)`` -> the cutoff :attr:`candidates` takes, or None to keep
        these rows forever.
    :param candidates: ``(cutoff, now)`` -> a SELECT of the key columns of the rows to remove.
    :param key: the key columns :attr:`candidates` selects.
    :param plan: ``key IN (...)`` condition -> ``[(table name, table, condition)]``: what to
        delete, children first.
    """

    name: str
    cutoff: Callable[[Mapping, datetime], Any]
    candidates: Callable[[Any, datetime], Any]
    key: tuple
    plan: Callable[[Any], list]


def _days_ago(setting: str, minimum: float = 0):
    def cutoff(config: Mapping, now: datetime) -> datetime | None:
        days = config[setting]
        return now - timedelta(days=max(days, minimum)) if days else None
    return cutoff


def _idempotency_cutoff(config: Mapping, now: datetime) -> datetime | None:
    hours = config["RETENTION_IDEMPOTENCY_HOURS"]
    # A record younger than the replay window still answers a repeated key: never removed.
    return now - max(timedelta(hours=hours), idempotency.WINDOW) if hours else None


def _expired_waitboxes(cutoff: datetime, now: datetime):
    return select(Waitbox.id).where(Waitbox.expires_at < cutoff).order_by(Waitbox.id)


def _old_deliveries(cutoff: datetime, now: datetime):
    message = MessageRecord
    kept = or_(
        exists().where(PushDelivery.message_id == message.id, PushDelivery.status == "pending"),
        exists().where(ConversationEntry.message_id == message.id,
                       ConversationEntry.status.in_(("queued", "claimed"))),
        # A waitbox the waitbox rule keeps (so the two rules do not depend on their order).
        exists().where(Waitbox.message_id == message.id, Waitbox.expires_at >= cutoff),
    )
    return (select(Delivery.id)
            .where(Delivery.received_at < cutoff,
                   ~exists().where(message.delivery_id == Delivery.id, kept))
            .order_by(Delivery.id))


def _ledger_plan(delivery_ids) -> list:
    messages = select(MessageRecord.id).where(MessageRecord.delivery_id.in_(delivery_ids))
    pushes = select(PushDelivery.id).where(PushDelivery.message_id.in_(messages))
    return [
        ("push_attempts", PushAttempt, PushAttempt.push_id.in_(pushes)),
        ("push_deliveries", PushDelivery, PushDelivery.message_id.in_(messages)),
        ("conversation_entries", ConversationEntry, ConversationEntry.message_id.in_(messages)),
        ("messages", MessageRecord, MessageRecord.delivery_id.in_(delivery_ids)),
        ("deliveries", Delivery, Delivery.id.in_(delivery_ids)),
    ]


def _settled_outbound(cutoff: datetime, now: datetime):
    return (select(MessageRecord.id)
            .where(MessageRecord.direction == "outbound", MessageRecord.created_at < cutoff,
                   ~exists().where(Send.message_id == MessageRecord.id, Send.status == "queued"))
            .order_by(MessageRecord.id))


def _outbound_plan(message_ids) -> list:
    return [
        ("conversation_entries", ConversationEntry, ConversationEntry.message_id.in_(message_ids)),
        ("send_attempts", SendAttempt, SendAttempt.message_id.in_(message_ids)),
        ("sends", Send, Send.message_id.in_(message_ids)),
        ("messages", MessageRecord, MessageRecord.id.in_(message_ids)),
    ]


def _settled_pushes(cutoff: datetime, now: datetime):
    # A settled push's next_attempt_at is when it settled (orqo.services.push.record).
    return (select(PushDelivery.id)
            .where(PushDelivery.status.in_(("delivered", "dead")),
                   PushDelivery.next_attempt_at < cutoff)
            .order_by(PushDelivery.id))


REJECTION_KEY = (Rejection.app_id, Rejection.window_start, Rejection.outcome, Rejection.source)

RULES: tuple[Rule, ...] = (
    # Before the ledger: a waitbox that is kept keeps the message that answered it.
    Rule("waitboxes", _days_ago("RETENTION_LEDGER_DAYS", MIN_LEDGER_DAYS), _expired_waitboxes,
         (Waitbox.id,), lambda ids: [("waitboxes", Waitbox, Waitbox.id.in_(ids))]),
    Rule("ledger", _days_ago("RETENTION_LEDGER_DAYS", MIN_LEDGER_DAYS), _old_deliveries,
         (Delivery.id,), _ledger_plan),
    Rule("outbound", _days_ago("RETENTION_LEDGER_DAYS", MIN_LEDGER_DAYS), _settled_outbound,
         (MessageRecord.id,), _outbound_plan),
    Rule("pushes", _days_ago("RETENTION_PUSHES_DAYS"), _settled_pushes, (PushDelivery.id,),
         lambda ids: [("push_attempts", PushAttempt, PushAttempt.push_id.in_(ids)),
                      ("push_deliveries", PushDelivery, PushDelivery.id.in_(ids))]),
    Rule("idempotency", _idempotency_cutoff, lambda cutoff, now: idempotency.expired(cutoff),
         (IdempotencyRecord.scope, IdempotencyRecord.key),
         lambda keys: [("idempotency_records", IdempotencyRecord,
                        tuple_(IdempotencyRecord.scope, IdempotencyRecord.key).in_(keys))]),
    Rule("rate_counters", lambda config, now: now.timestamp(),
         lambda cutoff, now: rate_limits.ended(cutoff),
         (RateCounter.key, RateCounter.window_start),
         lambda keys: [("rate_counters", RateCounter,
                        tuple_(RateCounter.key, RateCounter.window_start).in_(keys))]),
    Rule("rejections", _days_ago("RETENTION_LEDGER_DAYS"),
         lambda cutoff, now: select(*REJECTION_KEY).where(Rejection.last_at < cutoff),
         REJECTION_KEY, lambda keys: [("rejections", Rejection, tuple_(*REJECTION_KEY).in_(keys))]),
)

#: Every table a rule removes rows from, in the order reports list them.
TABLES = ("deliveries", "messages", "sends", "send_attempts", "conversation_entries",
          "waitboxes", "push_deliveries", "push_attempts", "idempotency_records",
          "rate_counters", "rejections")


@dataclass
class Pruned:
    """What one pruning removed (or, in a dry run, would remove), per table."""

    removed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    #: False when the time allowed ran out first: more rows are due.
    complete: bool = True
    dry_run: bool = False

    def add(self, counts: dict[str, int]) -> None:
        """Add one batch's counts."""
        for table, count in counts.items():
            self.removed[table] = self.removed.get(table, 0) + count

    @property
    def total(self) -> int:
        """Rows removed in all."""
        return sum(self.removed.values())


def prune(config: Mapping, *, dry_run: bool = False, seconds: float | None = None,
          batch: int | None = None) -> Pruned:
    """Remove every row the retention settings in ``config`` say is old enough.

    :param dry_run: count what would be removed, remove nothing.
    :param seconds: stop after the batch that passes this long (``complete`` is then False);
        None: until done.
    :param batch: rows of a rule's main table per transaction at most (default
        :data:`BATCH_SIZE`); fewer while batches take longer than :data:`BATCH_SECONDS`.
    """
    limit = batch or BATCH_SIZE
    batch = min(limit, FIRST_BATCH_SIZE)
    started, now = time.monotonic(), utcnow()
    pruned = Pruned(dry_run=dry_run)
    if dry_run:
        pruned.add(_count(config, now))
        return pruned
    for rule in RULES:
        cutoff = rule.cutoff(config, now)
        if cutoff is None:
            continue
        candidates = rule.candidates(cutoff, now)
        while True:
            batch_started = time.monotonic()
            keys = db.session.execute(candidates.limit(batch)
                                      .with_for_update(skip_locked=True)).all()
            if keys:
                key_values = [row[0] for row in keys] if len(rule.key) == 1 else keys
                for name, model, condition in rule.plan(key_values):
                    removed = db.session.execute(delete(model.__table__).where(condition))
                    pruned.add({name: removed.rowcount})
            db.session.commit()
            if len(keys) < batch:
                batch = min(limit, FIRST_BATCH_SIZE)
                break
            if seconds is not None and time.monotonic() - started > seconds:
                pruned.complete = False
                return pruned
            batch = _next_batch_size(batch, time.monotonic() - batch_started, limit)
    return pruned


def _next_batch_size(batch: int, took: float, limit: int) -> int:
    """Halve a batch that took longer than :data:`BATCH_SECONDS`, double a quick one."""
    if took > BATCH_SECONDS:
        return max(min(MIN_BATCH_SIZE, limit), batch // 2)
    if took < BATCH_SECONDS / 4:
        return min(limit, batch * 2)
    return batch


def _count(config: Mapping, now: datetime) -> dict[str, int]:
    """What :func:`prune` would remove now: per table, the rows any rule selects (a push the
    ledger takes with its message may be a settled push too: it is counted once)."""
    conditions: dict[str, tuple] = {}
    for rule in RULES:
        cutoff = rule.cutoff(config, now)
        if cutoff is not None:
            for name, model, condition in rule.plan(rule.candidates(cutoff, now).order_by(None)):
                conditions[name] = (model, conditions.get(name, (model, ()))[1] + (condition,))
    return {name: db.session.scalar(select(func.count()).select_from(model.__table__)
                                    .where(or_(*where)))
            for name, (model, where) in conditions.items()}
