"""SQLite for several gunicorn workers: WAL, a stated durability, and one queue for writers.

* **WAL**: readers never wait for the writer, and the writer never waits for readers.
* **Durability** (``SQLITE_SYNCHRONOUS``): ``NORMAL`` (the default) makes a commit durable
  against a crashed or killed process; a crash of the operating system or a power loss can
  lose the last commits. ``FULL`` syncs the log on every commit and survives power loss too,
  at roughly a third of the write throughput. docs/reliability.md states what an
  acknowledged delivery survives in each mode.
* **One writer at a time, queued**: SQLite has one write lock per database, and a writer that
  finds it taken sleeps in SQLite's busy handler, retrying at steps of up to 100 ms: under
  load, waiting writers sleep long after the lock is free. orqo's writers queue on an
  ``flock`` of ``<database>.lock`` instead: the kernel wakes the next one the moment the lock
  is released. Every write transaction (``BEGIN IMMEDIATE``) takes it first and releases it
  after its ``COMMIT`` or ``ROLLBACK``; SQLAlchemy sessions do so through the engine's
  ``begin`` event, the webhook path through :meth:`LockingConnection.begin_write`.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

from sqlalchemy import event

SYNCHRONOUS_MODES = ("NORMAL", "FULL")


class WriteLock:
    """The write lock of one database file, shared by this process's threads and connections.

    Threads of one process queue on a thread lock, processes on an ``flock`` held by one open
    file per process (a descriptor inherited across ``fork`` would be shared with the parent).
    """

    _locks: dict[str, WriteLock] = {}

    def __init__(self, database: str):
        self.path = database + ".lock"
        self._threads = threading.Lock()
        self._owner: int | None = None
        self._file = None
        self._pid = None

    @classmethod
    def of(cls, database: str) -> WriteLock:
        """The lock of ``database`` (one object per file and process)."""
        database = os.path.abspath(database)
        lock = cls._locks.get(database)
        if lock is None:
            lock = cls._locks.setdefault(database, cls(database))
        return lock

    def acquire(self) -> None:
        """Wait until no other thread or process writes; raise if this thread already does
        (on another connection it would wait for itself forever)."""
        if self._owner == threading.get_ident():
            raise RuntimeError("this thread already holds a write transaction on "
                               f"{self.path[:-5]} on another connection")
        self._threads.acquire()
        try:
            if self._pid != os.getpid():
                self._file = open(self.path, "a+b")  # noqa: SIM115 - held for the process's life
                self._pid = os.getpid()
            fcntl.flock(self._file, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise
        self._owner = threading.get_ident()

    def release(self) -> None:
        """Let the next writer in."""
        self._owner = None
        try:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class LockingConnection(sqlite3.Connection):
    """A ``sqlite3`` connection whose write transactions hold the database's :class:`WriteLock`
    from ``BEGIN IMMEDIATE`` to ``COMMIT`` or ``ROLLBACK``."""

    write_lock: WriteLock | None = None
    _holding = False

    def begin_write(self) -> None:
        """Queue for the write lock, then ``BEGIN IMMEDIATE``."""
        if self.write_lock is not None:
            self.write_lock.acquire()
            self._holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self.write_lock.release()


def connect_args(url) -> dict:
    """``sqlite3.connect`` arguments: :class:`LockingConnection`, and a busy timeout for
    writers outside orqo (the ``sqlite3`` shell, say), which do not queue on the lock."""
    return {"factory": LockingConnection, "timeout": 30}


def init_engine(engine, synchronous: str) -> None:
    """Set WAL, ``synchronous`` and foreign keys on every connection; begin every
    transaction with :meth:`LockingConnection.begin_write`."""
    database = engine.url.database
    on_disk = database not in (None, "", ":memory:") and not database.startswith("file:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # transactions begin only as below
        if on_disk and isinstance(dbapi_connection, LockingConnection):
            dbapi_connection.write_lock = WriteLock.of(database)
        cursor = dbapi_connection.cursor()
        if on_disk:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return  # the webhook path's connection: it begins its writes itself
        dbapi_connection = connection.connection.dbapi_connection
        if isinstance(dbapi_connection, LockingConnection):
            dbapi_connection.begin_write()
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
