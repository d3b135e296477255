"""SQLite's write lock (orqo.sqlite): writers queue on an flock instead of SQLite's busy
handler, and a thread that would wait for itself is told so at once."""
import threading
import time

import pytest
from sqlalchemy import create_engine
from sqlalchemy import text

from orqo import sqlite


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'lock.sqlite3'}",
                           connect_args=sqlite.connect_args(None))
    sqlite.init_engine(engine, "NORMAL")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    yield engine
    engine.dispose()


def test_every_connection_runs_wal_with_the_chosen_durability(engine):
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_second_writer_waits_for_the_first_and_then_writes(engine):
    order, holding = [], threading.Event()

    def first():
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('first')"))
            holding.set()
            time.sleep(0.3)
            order.append("first commits")

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(5)
    with engine.begin() as conn:  # queues on the lock until the first commits
        order.append("second begins")
        conn.execute(text("INSERT INTO t (who) VALUES ('second')"))
    thread.join()
    assert order == ["first commits", "second begins"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT who FROM t ORDER BY id")).scalars().all() == [
            "first", "second"]


def test_a_thread_that_would_wait_for_itself_is_told_at_once(engine):
    with engine.begin() as outer:
        outer.execute(text("INSERT INTO t (who) VALUES ('outer')"))
        started = time.monotonic()
        with pytest.raises(RuntimeError, match="already holds a write transaction"):
            with engine.begin() as inner:
                inner.execute(text("INSERT INTO t (who) VALUES ('inner')"))
        assert time.monotonic() - started < 1  # not SQLite's 30 s busy timeout
    with engine.connect() as conn:
        assert conn.execute(text("SELECT who FROM t")).scalars().all() == ["outer"]
