"""Pushing routed messages to the agent runtime through an outbox.

The push row is written in the routing transaction (:mod:`orqo.store`), so a message is pushed
if and only if it was stored; its payload gets the message's id when it is sent. ``orqo worker`` processes (:mod:`orqo.worker`) claim due rows
with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: each row is in flight in one worker),
POST them signed with Standard Webhooks headers (the public ``standardwebhooks`` library signs,
so any receiver can verify with it), and record every attempt. Failures back off exponentially
with jitter, honour ``Retry-After``, and end ``dead`` after ``PUSH_MAX_ATTEMPTS``; a 410 Gone
ends it at once. Receivers deduplicate on ``webhook-id``, which is the same on every attempt.

A receiver cannot hold a worker: an attempt has ``PUSH_TIMEOUT`` in all (connect, send and
every read: :mod:`orqo.deadlines`), never runs past its push's lease, and reads at
most :data:`ANSWER_KEEP_BYTES` of the answer. However an attempt ends, it is recorded and its
push rescheduled or ``dead``, never left leased.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import requests
from flask import current_app
from sqlalchemy import or_
from sqlalchemy import select
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from orqo import deadlines
from orqo.deadlines import parse_retry_after
from orqo.errors import ApiError
from orqo.errors import ConfigError
from orqo.extensions import db
from orqo.models import PushAttempt
from orqo.models import PushDelivery
from orqo.models import as_utc
from orqo.models import utcnow
from orqo.services.leasing import lease_rows

logger = logging.getLogger(__name__)

#: How much of an answer is read; the connection is closed rather than read further.
ANSWER_KEEP_BYTES = 64 * 1024
#: Characters of a failed answer's body kept in the attempt's ``error``.
ERROR_EXCERPT_CHARS = 300
#: Seconds at the end of a lease kept for recording the last attempt (at most a quarter of
#: the lease): no attempt runs into them, so none is still running when the lease ends and
#: another worker may take the push.
RECORD_MARGIN_SECONDS = 5.0
#: With less of the lease left than this (at most a quarter of the lease), the batch's
#: remaining pushes are handed back unsent.
MIN_ATTEMPT_SECONDS = 1.0


def check_config(config) -> None:
    """Fail at startup when a push URL is set without a usable signing secret."""
    if not config.get("AGENT_PUSH_URL"):
        return
    secret = config.get("AGENT_PUSH_SECRET") or ""
    try:
        Webhook(secret)
        valid = secret.startswith("whsec_")
    except Exception:
        valid = False
    if not valid:
        raise ConfigError("AGENT_PUSH_URL is set, so AGENT_PUSH_SECRET must be a Standard "
                          "Webhooks secret (whsec_ followed by base64)")


@dataclass
class AttemptResult:
    """How one HTTP attempt ended."""

    delivered: bool
    status_code: int | None = None
    error: str = ""
    retry_after: float | None = None
    gone: bool = False
    duration_ms: float = 0.0


def send(session: requests.Session, push_id: int, payload: dict, config,
         seconds: float | None = None) -> AttemptResult:
    """POST one push, signed, within ``seconds`` in all (default ``PUSH_TIMEOUT``).

    Never raises: however the attempt goes wrong (the network, the receiver's answer, orqo
    itself), that is its result.
    """
    started = time.perf_counter()
    try:
        return _attempt(session, push_id, payload, config,
                        config["PUSH_TIMEOUT"] if seconds is None else seconds, started)
    except Exception as exc:  # every attempt must end recorded, whatever went wrong
        if not isinstance(exc, requests.RequestException):
            logger.exception("push %s: the attempt failed unexpectedly", push_id)
        return AttemptResult(False, error=f"{type(exc).__name__}: {exc}"[:500],
                             duration_ms=(time.perf_counter() - started) * 1000)


def _attempt(session, push_id, payload, config, seconds, started) -> AttemptResult:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    msg_id = f"push_{push_id}"
    now = datetime.now(timezone.utc)
    headers = {
        "Content-Type": "application/json",
        "Accept-Encoding": "identity",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(config["AGENT_PUSH_SECRET"]).sign(msg_id, now, body),
    }
    answer = deadlines.post(session, config["AGENT_PUSH_URL"], data=body.encode("utf-8"),
                               headers=headers, connect_timeout=config["PUSH_CONNECT_TIMEOUT"],
                               total_seconds=seconds, keep=ANSWER_KEEP_BYTES)
    elapsed = (time.perf_counter() - started) * 1000
    status = answer.status_code
    if 200 <= status < 300:
        return AttemptResult(True, status, duration_ms=elapsed)
    return AttemptResult(False, status, describe_answer(answer),
                         parse_retry_after(answer.headers.get("Retry-After")),
                         gone=status == 410, duration_ms=elapsed)


def describe_answer(answer: deadlines.Answer) -> str:
    """A failed answer for the attempt's record: its status and the start of its body."""
    excerpt = " ".join(answer.body[:ERROR_EXCERPT_CHARS * 4].decode("utf-8", "replace").split())
    described = f"HTTP {answer.status_code}"
    if excerpt:
        described += f": {excerpt[:ERROR_EXCERPT_CHARS]}"
    if answer.cut_off:
        described += " (answer cut off)"
    return described


def next_delay(attempts: int, result: AttemptResult, config) -> float:
    """Seconds before the next attempt: exponential with jitter, or what Retry-After asks."""
    cap = config["PUSH_BACKOFF_MAX"]
    if result.retry_after is not None:
        return min(result.retry_after, cap)
    delay = min(cap, config["PUSH_BACKOFF_BASE"] * 2 ** (attempts - 1))
    return delay * random.uniform(0.5, 1.0)


def claim_due(limit: int, lease_seconds: float) -> list[tuple[int, dict, int]]:
    """Lease up to ``limit`` due pushes to this worker: ``[(id, payload, attempts)]``."""
    now = utcnow()
    ids, _token, _until = lease_rows(
        PushDelivery,
        ready=[PushDelivery.status == "pending", PushDelivery.next_attempt_at <= now,
               or_(PushDelivery.lease_until.is_(None), PushDelivery.lease_until < now)],
        order_by=[PushDelivery.next_attempt_at, PushDelivery.id],
        limit=limit, lease_seconds=lease_seconds,
    )
    rows = db.session.execute(
        select(PushDelivery.id, PushDelivery.message_id, PushDelivery.payload,
               PushDelivery.attempts)
        .where(PushDelivery.id.in_(ids)).order_by(PushDelivery.next_attempt_at, PushDelivery.id)
    ).all() if ids else []
    db.session.commit()
    return [(row.id, with_message_id(row.payload, row.message_id), row.attempts)
            for row in rows]


def with_message_id(payload: dict, message_id: int) -> dict:
    """The push's payload with its message's id (stored with the message, not in the payload:
    the payload is written in the same statement as the message, before its id is known)."""
    return {**payload, "message": {"id": message_id, **payload.get("message", {})}}


def record(push_id: int, attempts_before: int, result: AttemptResult, config) -> str:
    """Store an attempt and the push's new state; return that state.

    A push that settles (``delivered`` or ``dead``) gets ``next_attempt_at`` = now: no attempt
    is due any more, and retention (:mod:`orqo.services.retention`) ages it from then.
    """
    attempts = attempts_before + 1
    now = utcnow()
    values = {"attempts": attempts, "lease_until": None, "last_error": result.error}
    if result.delivered:
        values.update(status="delivered", delivered_at=now, next_attempt_at=now)
    elif result.gone or attempts >= config["PUSH_MAX_ATTEMPTS"]:
        values.update(status="dead", next_attempt_at=now)
    else:
        values.update(next_attempt_at=now + timedelta(seconds=next_delay(attempts, result, config)))
    db.session.add(PushAttempt(push_id=push_id, attempted_at=now, status_code=result.status_code,
                               error=result.error, duration_ms=result.duration_ms))
    db.session.execute(update(PushDelivery.__table__).where(PushDelivery.id == push_id)
                       .values(**values))
    db.session.commit()
    return values.get("status", "pending")


def release(push_ids: list[int]) -> None:
    """Hand leased pushes back unsent: due again at once, for any worker."""
    if push_ids:
        db.session.execute(update(PushDelivery.__table__)
                           .where(PushDelivery.id.in_(push_ids), PushDelivery.status == "pending")
                           .values(lease_until=None))
        db.session.commit()


def process_due(session: requests.Session, limit: int = 20) -> int:
    """Send the due pushes this worker can lease now, one after another; return how many were
    attempted.

    Each attempt gets ``PUSH_TIMEOUT``, or less so that it ends (and is recorded) while the
    batch's lease still holds; the pushes left when too little of the lease is left are
    handed back unsent, for the next round.
    """
    config = current_app.config
    lease = config["PUSH_LEASE_SECONDS"]
    margin = min(RECORD_MARGIN_SECONDS, lease / 4)
    shortest = min(MIN_ATTEMPT_SECONDS, lease / 4)
    sendable_until = time.monotonic() + lease - margin  # read before the lease is taken
    leased = claim_due(limit, lease)
    for done, (push_id, payload, attempts) in enumerate(leased):
        seconds = min(config["PUSH_TIMEOUT"], sendable_until - time.monotonic())
        if seconds < shortest:
            release([row[0] for row in leased[done:]])
            return done
        record(push_id, attempts, send(session, push_id, payload, config, seconds), config)
    return len(leased)


def list_pushes(status: str | None = None, limit: int = 50) -> list[PushDelivery]:
    """Pushes, newest first, optionally only those in one status."""
    query = select(PushDelivery).order_by(PushDelivery.id.desc()).limit(limit)
    if status:
        query = query.where(PushDelivery.status == status)
    return list(db.session.scalars(query))


def retry(push_id: int) -> PushDelivery:
    """Send a push again soon, with a fresh attempt budget (its attempt log is kept)."""
    push = db.session.get(PushDelivery, push_id)
    if push is None:
        raise ApiError(404, "not_found", f"No push delivery has the id {push_id}.")
    if push.status == "delivered":
        raise ApiError(409, "conflict", f"Push delivery {push_id} was delivered already.")
    push.status, push.attempts, push.next_attempt_at, push.lease_until = "pending", 0, utcnow(), None
    db.session.commit()
    return push


def describe_push(push: PushDelivery) -> dict:
    """A push with its attempts."""
    def iso(value):
        return as_utc(value).isoformat() if value else None

    return {
        "id": push.id, "message_id": push.message_id, "status": push.status,
        "attempts": push.attempts, "next_attempt_at": iso(push.next_attempt_at),
        "last_error": push.last_error, "delivered_at": iso(push.delivered_at),
        "attempt_log": [{"attempted_at": iso(a.attempted_at), "status_code": a.status_code,
                         "error": a.error, "duration_ms": round(a.duration_ms, 3)}
                        for a in push.attempt_log],
    }
