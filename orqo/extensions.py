"""Unbound Flask extensions, and the database engine settings orqo relies on."""
from __future__ import annotations

import os

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base of orqo's models."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()

#: Alembic's scripts ship inside the package, so an installed orqo can upgrade its database.
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs that name no driver."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def engine_options(url: str, connect_timeout: int) -> dict:
    """Engine options per backend: pre-ping and a short connect timeout, so an outage fails fast."""
    if make_url(url).get_backend_name() == "sqlite":
        # Writers wait for each other instead of failing at once.
        return {"connect_args": {"timeout": 30}}
    return {
        "pool_pre_ping": True,
        "pool_size": 5,
        "max_overflow": 5,
        "pool_timeout": connect_timeout,
        "connect_args": {"connect_timeout": connect_timeout},
    }


def init_sqlite_engine(engine) -> None:
    """Make SQLite safe for several gunicorn workers.

    WAL lets readers run beside a writer; ``BEGIN IMMEDIATE`` takes the write lock when a
    transaction starts, so two workers never both read and then fail to upgrade their lock
    (SQLite does not retry that case, it fails with "database is locked").
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy's BEGIN below be the only one
        cursor = dbapi_connection.cursor()
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def dialect_insert(table):
    """An INSERT for ``table`` that knows the current database's ON CONFLICT clauses."""
    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def insert_or_ignore(model, **values) -> bool:
    """INSERT a row unless it collides with a unique key; True when this call inserted it.

    ``ON CONFLICT DO NOTHING`` keeps the transaction usable when the row exists, and on
    PostgreSQL waits for a concurrent inserter's outcome instead of guessing.
    """
    table = model.__table__
    first_key = list(table.primary_key.columns)[0]
    # RETURNING, not rowcount: drivers and SQLAlchemy's bulk paths do not all report rowcount.
    statement = dialect_insert(table).values(**values).on_conflict_do_nothing().returning(first_key)
    return db.session.execute(statement).first() is not None
