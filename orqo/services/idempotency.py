"""``Idempotency-Key``: a repeated key within 24 hours gets the first answer, nothing new runs.

The key is claimed with an INSERT in the same transaction as the run it guards: a concurrent
request with the same key waits for that transaction on PostgreSQL (SQLite serialises
writers), then reads the committed answer.
"""
from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select
from sqlalchemy import update

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.extensions import insert_or_ignore
from orqo.models import IdempotencyRecord
from orqo.models import as_utc
from orqo.models import utcnow

WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def check_key(key: str | None) -> str | None:
    """The header's key, or None; 422 for an empty or over-long key, or one holding U+0000
    (which PostgreSQL cannot store: refused on every database alike)."""
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_LENGTH or "\x00" in key:
        raise ApiError(422, "validation_error", "The Idempotency-Key header is not valid.",
                       {"Idempotency-Key": [f"1 to {MAX_KEY_LENGTH} characters, not U+0000."]})
    return key


def claim(scope: str, key: str) -> tuple[int, dict] | None:
    """Claim ``key`` for this request, or return the earlier ``(status, body)`` to replay."""
    now = utcnow()
    if insert_or_ignore(IdempotencyRecord, scope=scope, key=key, created_at=now):
        return None
    record = db.session.scalar(select(IdempotencyRecord).filter_by(scope=scope, key=key)
                               .with_for_update())
    if as_utc(record.created_at) > now - WINDOW and record.status_code:
        return record.status_code, record.response
    # Expired (or left unanswered by a failed request): this request takes the key over.
    db.session.execute(delete(IdempotencyRecord).filter_by(scope=scope, key=key))
    insert_or_ignore(IdempotencyRecord, scope=scope, key=key, created_at=now)
    return None


def remember(scope: str, key: str, status: int, body: dict) -> None:
    """Store the answer given for ``key`` (in the request's transaction)."""
    db.session.execute(update(IdempotencyRecord).filter_by(scope=scope, key=key)
                       .values(status_code=status, response=body)
                       .execution_options(synchronize_session=False))


def answer_once(scope: str, key: str | None, status: int, act) -> tuple[dict, int]:
    """``(answer, status)`` of ``act()`` (which does the work and returns the answer), run in
    the request's transaction and committed; for a ``key`` answered already within
    :data:`WINDOW`, the first answer again and nothing run. ``key`` None: no key, just run."""
    if key is not None:
        earlier = claim(scope, key)
        if earlier is not None:
            db.session.rollback()
            return earlier[1], earlier[0]
    answer = act()
    if key is not None:
        remember(scope, key, status, answer)
    db.session.commit()
    return answer, status


def expired(cutoff: datetime):
    """The keys (``scope``, ``key``) of records created before ``cutoff``, oldest first, for
    retention (:mod:`orqo.services.retention`), which never passes a cutoff inside
    :data:`WINDOW`: a younger record still answers its key."""
    return (select(IdempotencyRecord.scope, IdempotencyRecord.key)
            .where(IdempotencyRecord.created_at < cutoff)
            .order_by(IdempotencyRecord.created_at))
