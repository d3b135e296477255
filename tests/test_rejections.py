"""Deliveries that prove nothing (a missing or wrong signature, an unsigned ping) are counted
per App, window, outcome and source, sampled, and rate-limited: a flood of them cannot grow
the database (issue 15, finding 2: 1,000 bad posts used to write 1,000 ledger rows)."""
import pytest
from sqlalchemy import func
from sqlalchemy import select

from orqo.extensions import db
from orqo.models import Delivery
from orqo.models import Rejection
from orqo.services.tokens import issue_token
from orqo.testing import Harness
from tests.conftest import TOKEN
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery

BAD = {"X-Fake-Token": "not-the-token"}


def harness(make_app, **config):
    h = Harness(make_app(plugins=[fake_adapter], **config))
    h.app_id = h.add_app("fake", {"token": TOKEN})
    h.ada = h.add_contact({h.app_id: "ada"})
    return h


def rows(h):
    """(ledger rows, rejection rows, the rejections' total count)."""
    with h.app.app_context():
        return (db.session.scalar(select(func.count()).select_from(Delivery)),
                db.session.scalar(select(func.count()).select_from(Rejection)),
                db.session.scalar(select(func.sum(Rejection.count))) or 0)


def test_a_flood_of_forged_deliveries_is_counted_not_stored(make_app):
    h = harness(make_app, REJECTION_RATE_LIMIT=0, REJECTION_SAMPLES=5)
    statuses = {h.deliver(h.app_id, delivery({"sender": "ada", "id": f"m{n}"}), BAD).status_code
                for n in range(300)}
    assert statuses == {401}
    ledger, counted, total = rows(h)
    assert (ledger, counted, total) == (5, 1, 300)
    [sample] = h.ledger()[:1]
    assert (sample["outcome"], sample["reason"]) == ("rejected_signature", "X-Fake-Token is wrong")


def test_a_genuine_delivery_is_stored_in_full_whatever_the_flood(make_app):
    h = harness(make_app, REJECTION_RATE_LIMIT=3, REJECTION_SAMPLES=0)
    for _ in range(10):
        h.deliver(h.app_id, delivery({"sender": "ada", "id": "x"}), BAD)
    good = h.deliver(h.app_id, delivery({"sender": "ada", "id": "m1"}), {"X-Fake-Token": TOKEN})
    assert good.status_code == 200 and good.json["messages"][0]["outcome"] == "routed"
    assert [entry["outcome"] for entry in h.ledger()] == ["accepted"]


def test_refusals_past_the_rate_limit_are_answered_429_without_database_work(make_app, clock):
    h = harness(make_app, REJECTION_RATE_LIMIT=10, REJECTION_SAMPLES=0)
    answers = [h.deliver(h.app_id, b"{}", BAD) for _ in range(15)]
    assert [a.status_code for a in answers] == [401] * 10 + [429] * 5
    limited = answers[-1]
    assert limited.json["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    statements = []
    from sqlalchemy import event

    with h.app.app_context():
        engine = db.engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert h.deliver(h.app_id, b"{}", BAD).status_code == 429
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert statements == []
    assert rows(h)[2] == 10
    clock.shift(61)  # a new minute: counted again, with the limited ones
    assert h.deliver(h.app_id, b"{}", BAD).status_code == 401
    assert rows(h)[2] == 17


def test_sources_past_the_bound_are_counted_as_other(make_app):
    h = harness(make_app, REJECTION_RATE_LIMIT=0, REJECTION_SAMPLES=0, REJECTION_SOURCES=2)
    for n in range(5):
        h.client.post(f"/api/v1/webhooks/{h.app_id}", data=b"{}", headers=BAD,
                      environ_base={"REMOTE_ADDR": f"127.0.0.{n + 1}"})
    with h.app.app_context():
        counted = dict(db.session.execute(select(Rejection.source, Rejection.count)).all())
    assert counted == {"127.0.0.1": 1, "127.0.0.2": 1, "other": 3}


def test_each_window_has_its_own_count_and_samples(make_app, clock):
    h = harness(make_app, REJECTION_RATE_LIMIT=0, REJECTION_SAMPLES=2,
                REJECTION_WINDOW_SECONDS=3600)
    for _ in range(4):
        h.deliver(h.app_id, b"{}", BAD)
    clock.shift(3600)
    for _ in range(3):
        h.deliver(h.app_id, b"{}", BAD)
    ledger, counted, total = rows(h)
    assert (ledger, counted, total) == (4, 2, 7)


def test_unsigned_pings_are_counted_and_answered_200(make_app):
    import orqo_slack

    h = Harness(make_app(plugins=[orqo_slack], REJECTION_RATE_LIMIT=0, REJECTION_SAMPLES=3))
    app_id = h.add_app("slack", {"SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5"})
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    answers = [h.deliver(app_id, b"ssl_check=1&token=x", form) for _ in range(50)]
    assert {a.status_code for a in answers} == {200}
    assert answers[0].json == {"outcome": "accepted", "reason": "ssl_check", "messages": []}
    ledger, counted, total = rows(h)
    assert (ledger, counted, total) == (3, 1, 50)


def test_the_counts_are_listed_by_the_api_and_the_cli(make_app):
    h = harness(make_app, REJECTION_RATE_LIMIT=0)
    for _ in range(3):
        h.deliver(h.app_id, b"{}", BAD)
    h.deliver(h.app_id, b"{}")
    with h.app.app_context():
        auth = {"Authorization": f"Bearer {issue_token('ops', ['admin'])[1]}"}
        agent = {"Authorization": f"Bearer {issue_token('bot', ['agent'])[1]}"}
    listed = h.client.get(f"/api/v1/rejections?app_id={h.app_id}", headers=auth)
    assert listed.status_code == 200
    [counted] = listed.json["items"]
    assert (counted["outcome"], counted["count"], counted["last_reason"], counted["source"]) \
        == ("rejected_signature", 4, "missing X-Fake-Token", "127.0.0.1")
    assert h.client.get("/api/v1/rejections", headers=agent).status_code == 403
    assert h.client.get("/api/v1/rejections?limit=0", headers=auth).status_code == 422
    printed = h.app.test_cli_runner().invoke(args=["rejections", "list"])
    assert printed.exit_code == 0, printed.output
    assert "missing X-Fake-Token" in printed.output and " 4 " in printed.output


@pytest.mark.parametrize("reason", ["missing", "adapter"])
def test_what_fails_before_the_signature_is_checked_is_counted_too(make_app, reason):
    h = harness(make_app, REJECTION_RATE_LIMIT=0, REJECTION_SAMPLES=1)
    if reason == "adapter":
        with h.app.app_context():
            h.app.extensions["orqo.pipeline"].adapters.pop("fake")
    for _ in range(20):
        h.deliver(h.app_id, b"{}")
    ledger, counted, total = rows(h)
    assert (ledger, counted, total) == (1, 1, 20)
