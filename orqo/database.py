"""The database schema's state: Alembic migrations (``orqo db upgrade``, ``orqo init-db``) and
whether the schema is current (``/readyz``)."""
from __future__ import annotations

import functools

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from orqo.extensions import MIGRATIONS_DIR
from orqo.extensions import db


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration shipped with this orqo."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision() -> str | None:
    """The migration the database is at, or None when it has none (empty or not orqo's)."""
    try:
        return db.session.scalar(text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError:
        db.session.rollback()
        return None


#: The PostgreSQL advisory lock that serialises hosts migrating at the same time.
MIGRATION_LOCK = 0x6F72716F  # "orqo"


def upgrade() -> None:
    """Bring the database to the newest migration (creates everything on an empty database).

    On PostgreSQL an advisory lock makes hosts that start together (several containers running
    ``orqo init-db``) migrate one after another instead of racing.
    """
    import flask_migrate

    if db.engine.dialect.name != "postgresql":
        flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        return
    with db.engine.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK})
        try:
            flask_migrate.upgrade(directory=MIGRATIONS_DIR)
        finally:
            lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK})


def create_current_schema() -> None:
    """Create the tables from the models and mark them as at the newest migration.

    For tests, where it is quicker than running every migration; ``tests/test_migrations.py``
    proves that the migrations and the models describe the same schema.
    """
    db.create_all()
    with db.engine.begin() as connection:
        connection.execute(text("CREATE TABLE IF NOT EXISTS alembic_version "
                                "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        connection.execute(text("DELETE FROM alembic_version"))
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                           {"v": head_revision()})
