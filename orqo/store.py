"""The webhook path's database work: one read per message, then one short write.

**The read** (:meth:`Store.read`, :data:`orqo.statements.READ`) finds, in one statement,
everything routing needs about a message: the Contact behind the sender, whether its dedupe
key was claimed already, how many messages the Contact sent in the last minute, the open
waitbox the message would answer, and the Doorkeeper conversation (and open session) of its
chat.

**The write** (:meth:`Store.write`) stores what was decided: the delivery (with the first of
its messages, or alone), the message with its outcome and handler, and what its route writes
(the waitbox it answers, its conversation entry, the workflow runs it starts, its push to the
agent runtime):

* SQLite (:meth:`Store.admission`): the read and the write share one ``BEGIN IMMEDIATE``
  transaction, begun after queueing on :class:`orqo.sqlite.WriteLock`: SQLite has one writer
  at a time anyway, so the read is never outdated, and the pages it read are still in the
  connection's cache for the INSERTs, which run one after another before the ``COMMIT``.
* PostgreSQL: the read runs alone; the write is one statement of CTEs in autocommit
  (:meth:`orqo.statements.Statements.at_once`), or, for the routes that first open a
  conversation or afterwards start runs or a new session, the same statements one by one
  between ``BEGIN`` and ``COMMIT``. The read may be outdated by then: another worker may have
  claimed the dedupe key or answered the waitbox. The write then fails as a whole (unique
  index, waitbox lock) and raises :class:`Conflict`: nothing was stored, and the caller reads
  and routes again.

The statements go to the driver directly, without SQLAlchemy's result objects (which cost as
much as the statement itself), but through SQLAlchemy's pool and its ``before_cursor_execute``
event. Each thread keeps one connection for this path (no checkout nor pre-ping per request);
an error drops it and the next request opens another. The rarer writes (a new conversation,
a new session, workflow runs) use SQLAlchemy Core on the same connection.
"""
from __future__ import annotations

import json
import threading
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import IntegrityError

from orqo.models import ConversationSession
from orqo.models import WorkflowRun
from orqo.services.conversations import open_conversation
from orqo.statements import Statement
from orqo.statements import Statements


class Conflict(Exception):
    """The database changed between the read and the write (the dedupe key was claimed or the
    waitbox answered by another worker); nothing was written. Read and route again."""


@dataclass(slots=True)
class Link:
    """A thread's connection: SQLAlchemy's, the driver's under it, the statement listeners."""

    conn: object
    dbapi: object
    listeners: object


@dataclass(slots=True)
class Found:
    """What :meth:`Store.read` found about one message (``contact_id`` None: not a Contact)."""

    contact_id: int | None
    seen: bool = False
    recent: int = 0
    waitbox_id: int | None = None
    waitbox_reference: str = ""
    conversation_id: int | None = None
    session_id: int | None = None


@dataclass
class Writes:
    """Everything one write stores; built by :mod:`orqo.intake`.

    :param delivery: the delivery's row, or its id once stored (a delivery's later messages).
    :param message: the message's row; None for a delivery without messages.
    :param waitbox_id: the waitbox the message answers.
    :param entry: the status of the message's Doorkeeper conversation entry.
    :param conversation_id: the entry's conversation, and ``session_id`` its open session;
        or ``conversation``, the key of a conversation to open first (its first message).
    :param new_session: a session phrase: end the session after the entry, open the next.
    :param runs: ``(workflow_id, trigger_id)``: start a run of each, ``run_input`` its input.
    :param push: the push's payload (its message gets its id when it is sent).
    """

    delivery: dict | int
    message: dict | None = None
    waitbox_id: int | None = None
    entry: str | None = None
    conversation_id: int | None = None
    session_id: int | None = None
    conversation: dict | None = None
    new_session: bool = False
    runs: tuple = ()
    run_input: dict | None = None
    push: dict | None = None


@dataclass
class Written:
    """The ids a write produced."""

    delivery_id: int
    message_id: int | None = None
    conversation_id: int | None = None
    session_id: int | None = None
    new_session_id: int | None = None
    run_ids: tuple = ()


def as_json(value) -> str:
    """``value`` as JSON text for a JSON column (the empty ones without the encoder)."""
    if not value:
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)


class Store:
    """The webhook path's reads and writes on one database (see the module docstring).

    :param sender_limit: ``SENDER_RATE_LIMIT``: the read counts a Contact's messages up to it.
    """

    def __init__(self, engine, *, sender_limit: int, window_seconds: int = 60):
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.sql = Statements(engine.dialect.name)
        self.sender_limit = sender_limit
        self.window = timedelta(seconds=window_seconds)
        self._error = engine.dialect.loaded_dbapi.Error
        self._local = threading.local()
        self._open = weakref.WeakSet()
        self._moment = self._moment_text = None
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    # -- the connection ----------------------------------------------------------------------

    def connection(self):
        """This thread's connection (SQLAlchemy, autocommit), opened on first use."""
        link = getattr(self._local, "link", None)
        if link is None or link.conn.invalidated or link.conn.closed:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            link = self._local.link = Link(conn, conn.connection.dbapi_connection,
                                           conn.dispatch.before_cursor_execute)
            self._open.add(conn)
        return link.conn

    def execute(self, statement: Statement, params: dict):
        """Run ``statement`` with ``params`` on this thread's connection; the driver's cursor.

        SQLAlchemy's ``before_cursor_execute`` listeners see every statement (with an empty
        context object), and a driver error is raised as SQLAlchemy's (``IntegrityError``,
        ``OperationalError``); after any but an ``IntegrityError`` the connection is dropped.
        """
        link = getattr(self._local, "link", None)
        if link is None:
            self.connection()
            link = self._local.link
        values = statement.values(params)
        try:
            if not link.listeners:
                return link.dbapi.execute(statement.text, values)
            cursor = link.dbapi.cursor()
            link.listeners(link.conn, cursor, statement.text, values, SimpleNamespace(), False)
            cursor.execute(statement.text, values)
            return cursor
        except self._error as exc:
            error = DBAPIError.instance(statement.text, values, exc, self._error,
                                        dialect=self.engine.dialect)
            if not isinstance(error, IntegrityError):
                self.drop()
            raise error from exc

    def drop(self) -> None:
        """Give this thread's connection up after an error: it is discarded, not pooled, and
        the next call opens another."""
        link = getattr(self._local, "link", None)
        self._local.link = None
        if link is not None:
            try:
                link.conn.invalidate()
                link.conn.close()
            except Exception:  # noqa: BLE001 - the connection is broken; it is gone either way
                pass

    def close(self) -> None:
        """Close every thread's connection (the engine is being disposed)."""
        for conn in list(self._open):
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - closing what may be broken already
                pass

    def when(self, moment: datetime):
        """A time as the driver stores it (SQLite: SQLAlchemy's text form of UTC)."""
        if self.postgres:
            return moment
        if moment is not self._moment:  # a request's times are mostly one moment
            self._moment = moment
            self._moment_text = moment.replace(tzinfo=None).isoformat(" ", "microseconds")
        return self._moment_text

    # -- the read ----------------------------------------------------------------------------

    def read(self, app_id: str, message, now: datetime) -> Found:
        """What routing needs to know about ``message`` from ``app_id``, in one statement."""
        row = self.execute(self.sql.read, {
            "app_id": app_id, "sender_id": message.sender_id, "dedupe_key": message.dedupe_key,
            "since": self.when(now - self.window), "cap": self.sender_limit,
            "now": self.when(now), "thread_id": message.thread_id, "chat_id": message.chat_id,
            "reply_to": message.reply_to,
            "thread_key": message.thread_id or "",
        }).fetchone()
        if row is None:
            return Found(contact_id=None)
        return Found(row[0], bool(row[1]), row[2], row[3], row[4] or "", row[5], row[6])

    # -- the write ---------------------------------------------------------------------------

    @contextmanager
    def admission(self):
        """The transaction one message is read and written in (see the module docstring):
        SQLite ``BEGIN IMMEDIATE`` ... ``COMMIT``; PostgreSQL none."""
        if self.postgres:
            yield
            return
        with self._transaction():
            self._local.open = True
            try:
                yield
            finally:
                self._local.open = False

    def write(self, writes: Writes) -> Written:
        """Store ``writes`` in one transaction (or in the open :meth:`admission`);
        :class:`Conflict` when the database changed since the read."""
        params = self._params(writes)
        try:
            if self.postgres and not (writes.conversation or writes.new_session or writes.runs):
                return self._write_at_once(writes, params)
            if getattr(self._local, "open", False):
                return self._write_in_steps(writes, params)
            with self._transaction():
                return self._write_in_steps(writes, params)
        except IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    def write_delivery(self, delivery: dict) -> int:
        """Store a delivery without messages (refused, a challenge, nothing to route); its id."""
        return self.write(Writes(delivery=delivery)).delivery_id

    def write_rows(self, statement: Statement, rows: list) -> None:
        """Run ``statement`` once per dict of parameters in ``rows``, in one transaction."""
        with self._transaction():
            for params in rows:
                self.execute(statement, params)

    def _params(self, writes: Writes) -> dict:
        """The statements' parameters, as the driver takes them."""
        if isinstance(writes.delivery, dict):
            delivery = writes.delivery
            params = {"app_id": delivery["app_id"],
                      "received_at": self.when(delivery["received_at"]),
                      "method": delivery["method"], "client_address": delivery["client_address"],
                      "delivery_outcome": delivery["outcome"],
                      "delivery_reason": delivery["reason"],
                      "status_code": delivery["status_code"],
                      "duration_ms": delivery["duration_ms"], "meta": as_json(delivery["meta"]),
                      # What it carried (orqo.carried); none for a replay, or when not kept.
                      "headers": None if delivery.get("headers") is None
                      else as_json(delivery["headers"]),
                      "body": delivery.get("body"), "body_bytes": delivery.get("body_bytes")}
        else:
            params = {"delivery_id": writes.delivery}
        message = writes.message
        if message is not None:
            params.update(message, attachments=as_json(message["attachments"]),
                          extra=as_json(message["extra"]),
                          created_at=self.when(message["created_at"]),
                          entry_status=writes.entry, waitbox_id=writes.waitbox_id,
                          conversation_id=writes.conversation_id,
                          session_id=writes.session_id,
                          payload=None if writes.push is None else json.dumps(writes.push))
        return params

    def _write_at_once(self, writes: Writes, params: dict) -> Written:
        """PostgreSQL: the whole write as one statement of CTEs, in autocommit."""
        if writes.message is None:
            return Written(delivery_id=self.execute(self.sql.delivery, params).fetchone()[0])
        statement = self.sql.at_once(isinstance(writes.delivery, dict),
                                     writes.waitbox_id is not None, writes.entry is not None,
                                     writes.push is not None)
        delivery_id, message_id = self.execute(statement, params).fetchone()
        if message_id is None:  # the waitbox was answered by another worker: nothing written
            raise Conflict(f"waitbox {writes.waitbox_id} is no longer waiting")
        return Written(delivery_id=delivery_id, message_id=message_id,
                       conversation_id=writes.conversation_id, session_id=writes.session_id)

    def _write_in_steps(self, writes: Writes, params: dict) -> Written:
        """The write as statements one after another, inside a transaction."""
        run, sql = self.execute, self.sql
        if isinstance(writes.delivery, dict):
            params["delivery_id"] = run(sql.delivery, params).fetchone()[0]
        written = Written(delivery_id=params["delivery_id"])
        if writes.message is None:
            return written
        conn, now, route_ids = self.connection(), writes.message["created_at"], {}
        if writes.conversation is not None:
            params["conversation_id"], params["session_id"] = open_conversation(
                conn, writes.conversation, now)
            params["handler_ref"] = str(params["conversation_id"])
            route_ids.update(conversation_id=params["conversation_id"],
                             session_id=params["session_id"])
        written.conversation_id = params["conversation_id"]
        written.session_id = params["session_id"]
        params["message_id"] = written.message_id = run(sql.message, params).fetchone()[0]
        if writes.waitbox_id is not None and run(sql.take_waitbox, params).rowcount != 1:
            raise Conflict(f"waitbox {writes.waitbox_id} is no longer waiting")
        if writes.entry is not None:
            run(sql.entry, params)
        if writes.new_session:
            written.new_session_id = route_ids["new_session_id"] = self._next_session(
                conn, params["conversation_id"], params["session_id"], now)
        if writes.runs:
            written.run_ids = self._start_runs(conn, writes, written.message_id)
            route_ids["workflow_run_ids"] = list(written.run_ids)
        if writes.push is not None:
            writes.push["route"].update(route_ids)
            params["payload"] = json.dumps(writes.push)
            run(sql.push, params)
        return written

    @contextmanager
    def _transaction(self):
        """``BEGIN`` (SQLite: ``BEGIN IMMEDIATE``, queued on the write lock) ... ``COMMIT`` on
        this thread's connection; rolled back when the block raises."""
        self.connection()
        if self.postgres:
            self.execute(self.sql.begin, {})
        else:
            self._local.link.dbapi.begin_write()
        try:
            yield
        except BaseException:
            try:
                self._local.link.dbapi.rollback()
            except Exception:  # noqa: BLE001 - a dropped connection has rolled back already
                pass
            raise
        self._local.link.dbapi.commit()

    # -- the rarer parts of a route (SQLAlchemy Core) ----------------------------------------

    def _next_session(self, conn, conversation_id: int, session_id: int, now: datetime) -> int:
        """End ``session_id`` and open the conversation's next session; its id."""
        sessions = ConversationSession.__table__
        conn.execute(update(sessions).where(sessions.c.id == session_id).values(ended_at=now))
        return conn.execute(insert(sessions).values(conversation_id=conversation_id,
                                                    started_at=now)
                            .returning(sessions.c.id)).scalar_one()

    def _start_runs(self, conn, writes: Writes, message_id: int) -> tuple:
        """A queued run of each workflow of ``writes.runs``; their ids."""
        run_input = {"id": message_id, **(writes.run_input or {})}
        runs = WorkflowRun.__table__
        return tuple(conn.execute(insert(runs).values(
            workflow_id=workflow_id, trigger_kind="app_event", trigger_ref=str(trigger_id),
            input=run_input, meta={}).returning(runs.c.id)).scalar_one()
            for workflow_id, trigger_id in writes.runs)
