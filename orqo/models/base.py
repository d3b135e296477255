"""Shared column types and time helpers of the models."""
from __future__ import annotations

import secrets
from datetime import datetime
from datetime import timezone

from sqlalchemy import BigInteger
from sqlalchemy import Integer

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids for the ledger.
BigId = BigInteger().with_variant(Integer(), "sqlite")


#: SQLite reuses the ids of deleted rows unless a table says AUTOINCREMENT; ids that leave
#: orqo (deliveries, messages, pushes' ``webhook-id``, conversations...) must never repeat.
NEVER_REUSED = {"sqlite_autoincrement": True}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite hands back naive datetimes)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def new_app_id() -> str:
    """An opaque, random, URL-safe App id (never sequential: the URL is public).

    Never starting with ``-`` or ``_``: a leading ``-`` would read as an option on the
    command line (``orqo adapters check <id>``).
    """
    while True:
        candidate = secrets.token_urlsafe(16)
        if candidate[0].isalnum():
            return candidate
