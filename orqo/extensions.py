"""Unbound Flask extensions, and the database engine settings orqo relies on."""
from __future__ import annotations

import os

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
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
    """Engine options per backend: on PostgreSQL pre-ping and a short connect timeout, so an
    outage fails fast; on SQLite the connection class of :mod:`orqo.sqlite`."""
    if make_url(url).get_backend_name() == "sqlite":
        from orqo.sqlite import connect_args

        return {"connect_args": connect_args(url)}
    return {
        "pool_pre_ping": True,
        "pool_size": 5,
        "max_overflow": 5,
        "pool_timeout": connect_timeout,
        "connect_args": {"connect_timeout": connect_timeout},
    }


def dialect_insert(table, dialect: str | None = None):
    """An INSERT for ``table`` that knows the database's ON CONFLICT clauses (``dialect``
    names it; by default the one of the current session)."""
    if (dialect or db.session.get_bind().dialect.name) == "postgresql":
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
