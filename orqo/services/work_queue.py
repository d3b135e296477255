"""Doorkeeper's work queue: the agent runtime claims messages with a lease and acks them.

No entry is handed to two claimants at once (see :mod:`orqo.services.leasing`). An entry
whose lease ran out without an ack is claimable again, under a new claim token.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy import update

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import ConversationEntry
from orqo.models import MessageRecord
from orqo.models import utcnow
from orqo.services.conversations import describe_entry
from orqo.services.leasing import lease_rows
from orqo.services.leasing import queued_or_lease_expired

MAX_BATCH = 100
MAX_LEASE_SECONDS = 3600


def claim(claimant: str, limit: int, lease_seconds: float) -> dict:
    """Claim up to ``limit`` queued entries, oldest first, for ``lease_seconds``.

    Returns ``{"claim_token", "lease_until", "messages": [...]}``; the token acks them.
    """
    errors = {}
    if not claimant or len(claimant) > 200:
        errors["claimant"] = ["A claimant name of 1 to 200 characters is required."]
    if not 1 <= limit <= MAX_BATCH:
        errors["limit"] = [f"Must be between 1 and {MAX_BATCH}."]
    if not 0 < lease_seconds <= MAX_LEASE_SECONDS:
        errors["lease_seconds"] = [f"Must be above 0 and at most {MAX_LEASE_SECONDS}."]
    if errors:
        raise ApiError(422, "validation_error", "The claim is not valid.", errors)
    ids, token, lease_until = lease_rows(
        ConversationEntry, ready=queued_or_lease_expired(ConversationEntry, utcnow()),
        order_by=[ConversationEntry.id], limit=limit, lease_seconds=lease_seconds,
        values={"status": "claimed", "claimed_by": claimant,
                "claims": ConversationEntry.claims + 1},
    )
    rows = db.session.execute(
        select(ConversationEntry, MessageRecord)
        .join(MessageRecord, MessageRecord.id == ConversationEntry.message_id)
        .where(ConversationEntry.id.in_(ids)).order_by(ConversationEntry.id)
    ).all() if ids else []
    db.session.commit()
    return {
        "claim_token": token,
        "lease_until": lease_until.isoformat(),
        "messages": [describe_entry(entry, record) for entry, record in rows],
    }


def ack(claim_token: str, entry_ids: list[int]) -> dict:
    """Acknowledge entries handled under ``claim_token``.

    Returns ``{"acked": [...], "rejected": [...]}``: an entry is rejected when it is not held
    by this claim (its lease ran out and someone else claimed it, or it was never claimed).
    An entry acked twice under its claim stays acked.
    """
    if not claim_token or not entry_ids:
        raise ApiError(422, "validation_error", "Nothing to acknowledge.",
                       {"entry_ids": ["Give a claim_token and at least one entry id."]})
    acked = db.session.scalars(
        update(ConversationEntry.__table__)
        .where(ConversationEntry.id.in_(entry_ids),
               ConversationEntry.claim_token == claim_token,
               ConversationEntry.status.in_(["claimed", "acked"]))
        .values(status="acked", acked_at=utcnow(), lease_until=None)
        .returning(ConversationEntry.id)
    ).all()
    db.session.commit()
    return {"acked": sorted(acked), "rejected": sorted(set(entry_ids) - set(acked))}
