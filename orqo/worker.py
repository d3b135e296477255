"""``orqo worker``: the process that sends the push outbox (see :mod:`orqo.services.push`),
sends the messages agents queue through the platforms (see :mod:`orqo.services.sending`) and
prunes what retention says is old enough (see :mod:`orqo.services.retention`).

Run as many as you like, on any host sharing the database: each push and each message is
leased to one worker at a time, and concurrent prunings skip each other's rows. SIGTERM or SIGINT lets the current
batch finish, then the worker exits.
"""
from __future__ import annotations

import logging
import signal
import threading
import time

from orqo import deadlines
from orqo.extensions import db
from orqo.services import push
from orqo.services import retention
from orqo.services import sending

logger = logging.getLogger(__name__)

#: Seconds a worker prunes at most before it sends pushes again; what is left is pruned next.
PRUNE_ROUND_SECONDS = 10.0


def run(app, once: bool = False, batch: int = 20) -> int:
    """Send due pushes and messages until stopped (or, with ``once``, until none is due);
    return the count of attempts.

    Prunes when it starts and then every ``PRUNE_INTERVAL_SECONDS`` (0: never). Without
    ``AGENT_PUSH_URL`` it pushes nothing, and still sends messages and prunes.
    """
    pushing = bool(app.config.get("AGENT_PUSH_URL"))
    stopping = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stopping.set())
    sent, prune_at = 0, time.monotonic()
    try:
        with deadlines.make_session() as session, app.app_context():
            logger.info("worker started; sending queued messages, %s",
                        "pushing to the configured agent endpoint" if pushing
                        else "not pushing (AGENT_PUSH_URL is not set)")
            while not stopping.is_set():
                prune_at = prune_when_due(app.config, prune_at)
                if stopping.is_set():
                    break
                try:
                    count = push.process_due(session, batch) if pushing else 0
                    count += sending.process_due(session, batch)
                except Exception:  # the database may be down: wait, then try again
                    logger.exception("worker iteration failed")
                    db.session.rollback()
                    count = 0
                sent += count
                if count == 0:
                    if once:
                        break
                    stopping.wait(app.config["WORKER_POLL_SECONDS"])
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    logger.info("worker stopped after %d attempts", sent)
    return sent


def prune_when_due(config, due_at: float) -> float:
    """Prune if ``due_at`` (on the monotonic clock) has come; return when to prune next."""
    interval = config["PRUNE_INTERVAL_SECONDS"]
    if not interval or time.monotonic() < due_at:
        return due_at
    try:
        pruned = retention.prune(config, seconds=PRUNE_ROUND_SECONDS)
    except Exception:  # the database may be down: the next interval tries again
        logger.exception("pruning failed")
        db.session.rollback()
        return time.monotonic() + interval
    removed = {table: count for table, count in pruned.removed.items() if count}
    if removed or not pruned.complete:
        logger.info("pruned %d rows%s: %s", pruned.total,
                    "" if pruned.complete else " (more are due: continuing)",
                    ", ".join(f"{table}={count}" for table, count in removed.items()) or "none")
    return time.monotonic() + (interval if pruned.complete else 0)
