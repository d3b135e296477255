"""``orqo worker``: the process that sends the push outbox (see :mod:`orqo.services.push`).

Run as many as you like, on any host sharing the database: each push is leased to one worker
at a time, and concurrent prunings skip each other's rows. SIGTERM or SIGINT lets the current
batch finish, then the worker exits.
"""
from __future__ import annotations

import logging
import signal
import threading

from orqo.extensions import db
from orqo.services import bounded_http
from orqo.services import push

logger = logging.getLogger(__name__)


def run(app, once: bool = False, batch: int = 20) -> int:
    """Send due pushes until stopped (or, with ``once``, until none is due); return the count."""
    stopping = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stopping.set())
    sent = 0
    try:
        with bounded_http.make_session() as session, app.app_context():
            logger.info("worker started; pushing to the configured agent endpoint")
            while not stopping.is_set():
                try:
                    count = push.process_due(session, batch)
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

