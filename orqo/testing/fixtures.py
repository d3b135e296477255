"""Fixtures for tests of orqo and of adapter plugins (in-process, through the test client).

Fixtures:

* ``database_url``: runs the test on SQLite, and again on PostgreSQL when
  ``ORQO_TEST_DATABASE_URL`` is set (each PostgreSQL test gets a schema of its own);
* ``make_app(plugins=(), **config)``: an orqo app with exactly the plugins named (entry
  points off), its tables created;
* ``harness``: a :class:`Harness` over ``make_app()`` for the common steps.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy.engine import make_url

from orqo import create_app
from orqo.database import create_current_schema
from orqo.extensions import db
from orqo.services import apps as app_service
from orqo.services import contacts as contact_service
from orqo.services import ledger
from orqo.services import waitboxes

POSTGRES_ENV = "ORQO_TEST_DATABASE_URL"


def postgres_schema_url(base_url: str, schema: str) -> str:
    """``base_url`` with every connection's search_path set to ``schema``."""
    url = make_url(base_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


class PostgresSchema:
    """A throw-away schema in the PostgreSQL database of ``ORQO_TEST_DATABASE_URL``."""

    def __init__(self, base_url: str):
        import psycopg

        self.base_url = base_url
        self.name = f"orqo_test_{uuid.uuid4().hex[:12]}"
        self._dsn = make_url(base_url).set(drivername="postgresql").render_as_string(
            hide_password=False)
        with psycopg.connect(self._dsn, autocommit=True) as connection:
            connection.execute(f'CREATE SCHEMA "{self.name}"')
        self.url = postgres_schema_url(base_url, self.name)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self._dsn, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database URL: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'orqo-test.sqlite3'}"
        return
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests run when {POSTGRES_ENV} is set (CI sets it)")
    schema = PostgresSchema(base)
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture
def make_app(database_url, tmp_path, monkeypatch):
    """Factory: ``make_app(plugins=(), create_tables=True, **config)``: an app with exactly
    those plugins.

    Built-in plugins are always there; entry points are not loaded, so what is installed
    never leaks into a test. The tables are created.
    """
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path / "instance"))
    created = []

    def factory(plugins=(), *, create_tables=True, **config):
        settings = {"TESTING": True, "DATABASE_URL": database_url, "LOAD_ENTRYPOINTS": False}
        settings.update(config)
        app = create_app(settings, plugins=plugins)
        created.append(app)
        if create_tables:
            with app.app_context():
                create_current_schema()
        return app

    yield factory
    for app in created:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


class Harness:
    """The usual steps of a pipeline test, through orqo's service functions and test client."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()

    def add_app(self, adapter: str, credentials=None, config=None, name="Test App") -> str:
        """Create an App; return its id."""
        with self.app.app_context():
            return app_service.create_app_record(name, adapter, credentials or {}, config or {}).id

    def add_contact(self, channels: dict[str, str], name="Ada Lovelace") -> int:
        """Create a Contact with ``{app_id: sender_id}`` Channels; return its id."""
        with self.app.app_context():
            return contact_service.create_contact(name, channels).id

    def open_waitbox(self, app_id, contact_id, thread_id=None, expires_in=300.0, reference=""):
        """Open a waitbox; return its id."""
        with self.app.app_context():
            return waitboxes.open_waitbox(app_id, contact_id, expires_in, thread_id, reference).id

    def waitbox(self, waitbox_id) -> dict:
        """A waitbox as agents see it."""
        from orqo.models import Waitbox

        with self.app.app_context():
            return waitboxes.describe_waitbox(db.session.get(Waitbox, waitbox_id))

    def deliver(self, app_id, body: bytes = b"", headers=None, method="POST", query=None):
        """Send one delivery to the App's webhook URL; return the test client's response."""
        return self.client.open(f"/api/v1/webhooks/{app_id}", method=method, data=body,
                                headers=headers or {}, query_string=query)

    def ledger(self, app_id=None) -> list[dict]:
        """The ledger, newest delivery first."""
        with self.app.app_context():
            return [ledger.describe_delivery(d) for d in ledger.list_deliveries(app_id, 1000)]


@pytest.fixture
def harness(make_app):
    """A :class:`Harness` over an app with only the built-in plugins."""
    return Harness(make_app())
