"""Fixtures for orqo's own tests (``make_app``, ``harness``, ``database_url`` come from
:mod:`orqo.testing`, the pytest plugin orqo ships for adapter authors)."""
from datetime import datetime
from datetime import timezone

import pytest
import time_machine

from orqo.testing import Harness
from tests.plugins import fake_adapter

TOKEN = "fake-token-123"


@pytest.fixture
def app(make_app):
    """An app with the fake adapter and the built-in plugins only."""
    return make_app(plugins=[fake_adapter])


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def fake(app):
    """A Harness with one fake App (``fake.app_id``) and one Contact ``ada`` on it."""
    harness = Harness(app)
    harness.app_id = harness.add_app("fake", {"token": TOKEN})
    harness.ada = harness.add_contact({harness.app_id: "ada"})
    harness.headers = {"X-Fake-Token": TOKEN}
    return harness


@pytest.fixture
def clock():
    """The clock, ticking from now, that a test moves on with ``clock.shift(seconds)`` to pass
    a lease or a grace period, instead of a short one and a sleep: a busy machine can take
    longer than a short lease between two requests that must both fall inside it."""
    with time_machine.travel(datetime.now(timezone.utc), tick=True) as traveller:
        yield traveller
