"""Deliveries that were not proven genuine, recorded in bounded form.

Anyone who knows an App's id can POST to its webhook URL. A delivery whose signature is missing
or wrong, one to an App whose adapter failed or is missing before it could verify anything,
and an unsigned ping a platform really sends (Slack's ``ssl_check``) prove nothing, so each is
not a ledger row of its own (a flood would grow the database by one row per request):

* **counted**: one row of ``rejections`` per App, window (``REJECTION_WINDOW_SECONDS``),
  outcome and source address, whose ``count`` grows (one upsert per refusal);
* **sampled**: the first ``REJECTION_SAMPLES`` of each App and window (in each worker) are also
  written to the ledger in full (``deliveries``, with their redacted headers and their body up
  to ``LEDGER_BODY_BYTES``), for forensics;
* **limited**: past ``REJECTION_RATE_LIMIT`` refusals a minute from one address to one App (in
  each worker), a refusal is answered 429 without any database work; it is added to the count
  with the worker's next recorded refusal.

A worker tells ``REJECTION_SOURCES`` addresses apart per App and window; the rest are counted
as ``other``. Every delivery is verified first: a genuine one is never refused by the limit.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

OTHER = "other"
#: The outcomes counted here rather than stored one by one.
UNPROVEN = ("rejected_signature", "adapter_error", "unsigned")

UPSERT = """
INSERT INTO rejections (app_id, window_start, outcome, source, count, first_at, last_at,
                        last_status, last_reason)
VALUES (:app_id, :window_start, :outcome, :source, :count, :now, :now, :status, :reason)
ON CONFLICT (app_id, window_start, outcome, source) DO UPDATE SET
    count = rejections.count + excluded.count, last_at = excluded.last_at,
    last_status = excluded.last_status, last_reason = excluded.last_reason
"""


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one refusal: answer it 429 unrecorded (``limited``), or count it, and
    also write it to the ledger in full when it is a ``sample``."""

    limited: bool
    sample: bool = False
    retry_after: int = 0


class Rejections:
    """One worker's bookkeeping of refusals (see the module docstring).

    :param store: the webhook path's :class:`orqo.store.Store`.
    """

    def __init__(self, store, *, window: int, samples: int, sources: int, rate_limit: int):
        self.store = store
        self.window, self.samples, self.sources = window, samples, sources
        self.rate_limit = rate_limit
        self.upsert = store.sql.compile(UPSERT)
        self._lock = threading.Lock()
        self._window_start = None
        self._sampled = {}  # app id: samples written this window
        self._known = {}  # app id: the sources told apart this window
        self._minute = None
        self._per_minute = {}  # (app id, source): refusals this minute
        self._pending = {}  # (app id, window start, outcome, source): limited, not yet counted

    def note(self, app_id: str, source: str | None, outcome: str, status: int, reason: str,
             received_at) -> Decision:
        """Account for one refusal of a delivery from ``source`` to ``app_id``: count it (one
        upsert, with the limited ones not counted yet) unless it is over the rate limit."""
        source, now = source or "unknown", received_at.timestamp()
        with self._lock:
            self._roll(now)
            seen = self._per_minute[(app_id, source)] = \
                self._per_minute.get((app_id, source), 0) + 1
            key = (app_id, self._window_start, outcome, self._source(app_id, source))
            if self.rate_limit and seen > self.rate_limit:
                self._pending[key] = self._pending.get(key, 0) + 1
                return Decision(limited=True, retry_after=max(1, 60 - int(now - self._minute)))
            taken = self._sampled.get(app_id, 0)
            if taken < self.samples:
                self._sampled[app_id] = taken + 1
            pending, self._pending = self._pending, {}
        pending[key] = pending.get(key, 0) + 1
        when = self.store.when(received_at)
        rows = [{"app_id": app, "window_start": start, "outcome": kind, "source": where,
                 "count": n, "now": when, "status": status, "reason": reason[:500]}
                for (app, start, kind, where), n in pending.items()]
        try:
            self.store.write_rows(self.upsert, rows)
        except Exception:
            with self._lock:  # counted with the next one instead
                for row_key, n in pending.items():
                    self._pending[row_key] = self._pending.get(row_key, 0) + n
            raise
        return Decision(limited=False, sample=taken < self.samples)

    def _source(self, app_id: str, source: str) -> str:
        """``source``, or ``other`` once this window's addresses are many (lock held)."""
        known = self._known.setdefault(app_id, set())
        if source in known:
            return source
        if len(known) < self.sources:
            known.add(source)
            return source
        return OTHER

    def _roll(self, now: float) -> None:
        """Start a new window or minute when ``now`` has passed into one (lock held)."""
        window_start = int(now) - int(now) % self.window
        if window_start != self._window_start:
            self._window_start = window_start
            self._sampled.clear()
            self._known.clear()  # pending counts keep their own window's key
        minute = int(now) - int(now) % 60
        if minute != self._minute:
            self._minute = minute
            self._per_minute.clear()
