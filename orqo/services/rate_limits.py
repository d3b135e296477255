"""Per-caller rate limits, counted in the database so that every worker and host shares them.

A fixed window: one upsert per request increments the caller's counter for the current
window and returns it; over the limit answers 429 with ``Retry-After`` until the window ends.
"""
from __future__ import annotations

import math
import time

from sqlalchemy import select

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.extensions import dialect_insert
from orqo.models import RateCounter


def count(key: str, window_seconds: int) -> tuple[int, int]:
    """Count one more request for ``key`` in the current window, in the caller's transaction.

    Returns the window's count so far and the seconds until the window ends.
    """
    now = time.time()
    window_start = int(now // window_seconds) * window_seconds
    statement = dialect_insert(RateCounter.__table__).values(key=key, window_start=window_start,
                                                             count=1)
    statement = statement.on_conflict_do_update(
        index_elements=["key", "window_start"],
        set_={"count": RateCounter.__table__.c.count + 1},
    ).returning(RateCounter.__table__.c.count)
    seen = db.session.execute(statement).scalar_one()
    return seen, max(1, math.ceil(window_start + window_seconds - now))


def hit(key: str, limit: int, window_seconds: int) -> None:
    """Count one request for ``key``; raise a 429 :class:`ApiError` past ``limit`` per window."""
    if not limit:
        return
    seen, retry_after = count(key, window_seconds)
    if seen > limit:
        db.session.commit()  # the count stands even though the request is refused
        raise ApiError(429, "rate_limited", f"Too many requests: at most {limit} per "
                       f"{window_seconds} s.", headers={"Retry-After": str(retry_after)})


#: A counter whose window started longer ago than this has ended: far longer than any window
#: in use (a minute, on the trigger endpoints).
ENDED_AFTER_SECONDS = 3600


def ended(now: float):
    """The keys (``key``, ``window_start``) of counters whose window has ended by ``now``
    (Unix seconds), for retention (:mod:`orqo.services.retention`)."""
    return (select(RateCounter.key, RateCounter.window_start)
            .where(RateCounter.window_start < int(now) - ENDED_AFTER_SECONDS)
            .order_by(RateCounter.window_start))
