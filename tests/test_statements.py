"""What one routed message costs the database: the statements it sends, counted.

Counted with SQLAlchemy's ``before_cursor_execute`` event (the webhook path sends its
statements with the driver directly, but through that event), after a warm-up delivery that
loads the App into the worker's cache and opens the Contact's conversation; ``BEGIN`` and
``COMMIT`` are not counted. The targets (issue 14): at most 5 on SQLite, at most 3 on
PostgreSQL. Counting is deterministic, so it is a test; speed is measured by ``make bench``.
"""
import pytest
from sqlalchemy import event

from orqo.extensions import db
from orqo.testing import Harness
from tests.conftest import TOKEN
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery

PUSH = {"AGENT_PUSH_URL": "http://127.0.0.1:9/agent",
        "AGENT_PUSH_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}


def harness_with(make_app, **config):
    # A long App cache: its revision check (one read per worker every APP_CACHE_SECONDS) must
    # not fall between the warm-up and the counted delivery on a slow machine.
    harness = Harness(make_app(plugins=[fake_adapter], APP_CACHE_SECONDS=3600, **config))
    harness.app_id = harness.add_app("fake", {"token": TOKEN})
    harness.ada = harness.add_contact({harness.app_id: "ada"})
    return harness


def statements_of(harness, message_id, **fields):
    """The statements one delivery of one message sends, and the answer."""
    sent = []

    def count(conn, cursor, statement, parameters, context, executemany):
        verb = statement.split()[0].upper()
        if verb not in ("BEGIN", "COMMIT"):
            sent.append(" ".join(statement.split()))

    with harness.app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = harness.deliver(harness.app_id,
                                   delivery({"sender": "ada", "id": message_id, **fields}),
                                   {"X-Fake-Token": TOKEN})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.json
    return sent, response.json["messages"][0]


def postgres(harness) -> bool:
    return harness.app.extensions["orqo.pipeline"].store.postgres


def target(harness) -> int:
    return 3 if postgres(harness) else 5


def test_a_dm_routed_to_doorkeeper(make_app):
    harness = harness_with(make_app)
    statements_of(harness, "warm-up")
    sent, answer = statements_of(harness, "m1")
    assert answer == {"outcome": "routed", "handler": "doorkeeper"}
    assert len(sent) <= target(harness), sent
    # The read, then the write: one statement of CTEs, or the three INSERTs.
    assert len(sent) == (2 if postgres(harness) else 4), sent


def test_a_reply_answering_a_waitbox(make_app):
    harness = harness_with(make_app)
    statements_of(harness, "warm-up")
    harness.open_waitbox(harness.app_id, harness.ada)
    sent, answer = statements_of(harness, "m1")
    assert answer == {"outcome": "routed", "handler": "waitbox"}
    assert len(sent) <= target(harness), sent
    assert any("UPDATE waitboxes" in statement for statement in sent)


def test_with_pushes_to_the_agent_runtime(make_app):
    harness = harness_with(make_app, **PUSH)
    statements_of(harness, "warm-up")
    sent, answer = statements_of(harness, "m1")
    assert answer["outcome"] == "routed"
    assert len(sent) <= target(harness), sent
    assert "push_deliveries" in sent[-1]


@pytest.mark.parametrize("fields,outcome", [({"sender": "mallory"}, "unknown_sender")])
def test_a_message_that_is_not_routed_costs_less(make_app, fields, outcome):
    harness = harness_with(make_app)
    statements_of(harness, "warm-up")
    sent, answer = statements_of(harness, "m1", **fields)
    assert answer["outcome"] == outcome
    assert len(sent) <= target(harness), sent
