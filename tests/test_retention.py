"""Retention (issue 15, "tables that only grow"): ``orqo prune`` and the worker's pruning remove
what is old enough and keep what is still in use. The ``clock`` fixture ages the rows."""
import base64
import json
import logging

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import text

from orqo import worker
from orqo.extensions import db
from orqo.models import ConversationEntry
from orqo.models import Delivery
from orqo.models import IdempotencyRecord
from orqo.models import MessageRecord
from orqo.models import PushAttempt
from orqo.models import PushDelivery
from orqo.models import RateCounter
from orqo.models import Rejection
from orqo.models import Waitbox
from orqo.services import idempotency
from orqo.services import push
from orqo.services import rate_limits
from orqo.services import retention
from orqo.services import work_queue
from orqo.testing import Harness
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery

URL = "http://127.0.0.1:9/orqo"  # answered by requests_mock: nothing is sent
SECRET = "whsec_" + base64.b64encode(b"push-secret-32-bytes-long-012345").decode()
DAY = 86400
MODELS = {"deliveries": Delivery, "messages": MessageRecord,
          "conversation_entries": ConversationEntry, "waitboxes": Waitbox,
          "push_deliveries": PushDelivery, "push_attempts": PushAttempt,
          "idempotency_records": IdempotencyRecord, "rate_counters": RateCounter,
          "rejections": Rejection}
#: Rows whose parent is gone: none may be left behind, whatever ON DELETE says.
ORPHANS = """
SELECT (SELECT count(*) FROM messages m WHERE NOT EXISTS
          (SELECT 1 FROM deliveries d WHERE d.id = m.delivery_id))
     + (SELECT count(*) FROM conversation_entries e WHERE NOT EXISTS
          (SELECT 1 FROM messages m WHERE m.id = e.message_id))
     + (SELECT count(*) FROM push_deliveries p WHERE NOT EXISTS
          (SELECT 1 FROM messages m WHERE m.id = p.message_id))
     + (SELECT count(*) FROM push_attempts a WHERE NOT EXISTS
          (SELECT 1 FROM push_deliveries p WHERE p.id = a.push_id))
     + (SELECT count(*) FROM waitboxes w WHERE w.message_id IS NOT NULL AND NOT EXISTS
          (SELECT 1 FROM messages m WHERE m.id = w.message_id))
"""


@pytest.fixture
def orqo(make_app, requests_mock):
    """``orqo(**config)``: a Harness with one fake App and Contact ``ada``, pushing to a
    receiver that fails pushes of messages saying "fail" and takes the others."""
    def answer(request, context):
        context.status_code = 500 if "fail" in json.loads(request.body)["message"]["text"] else 204
        return ""

    requests_mock.post(URL, text=answer)

    def factory(**config):
        settings = {"AGENT_PUSH_URL": URL, "AGENT_PUSH_SECRET": SECRET,
                    "PUSH_BACKOFF_BASE": 600.0, **config}
        harness = Harness(make_app(plugins=[fake_adapter], **settings))
        harness.app_id = harness.add_app("fake", {"token": "t"})
        harness.ada = harness.add_contact({harness.app_id: "ada"})
        return harness
    return factory


def say(harness, message_id, text="hi"):
    body = delivery({"sender": "ada", "id": message_id, "text": text})
    return harness.deliver(harness.app_id, body, {"X-Fake-Token": "t"}).json["messages"][0]


def push_all(harness):
    with harness.app.app_context(), requests.Session() as session:
        while push.process_due(session):
            pass


def ack_all(harness):
    """Doorkeeper's queue taken and acknowledged, as an agent runtime does."""
    with harness.app.app_context():
        claimed = work_queue.claim("agent", 100, 60)
        work_queue.ack(claimed["claim_token"], [m["entry_id"] for m in claimed["messages"]])


def prune(harness, *args):
    result = harness.app.test_cli_runner().invoke(args=["prune", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def counts(harness):
    with harness.app.app_context():
        return {name: db.session.scalar(select(func.count()).select_from(model))
                for name, model in MODELS.items()}


def orphans(harness):
    with harness.app.app_context():
        return db.session.scalar(text(ORPHANS))


def push_ids(harness):
    with harness.app.app_context():
        return [{"id": p.id} for p in push.list_pushes()]


def texts(harness):
    with harness.app.app_context():
        return sorted(db.session.scalars(select(MessageRecord.text)))


def test_prune_removes_an_old_ledger_and_keeps_what_is_still_in_use(orqo, clock):
    harness = orqo()
    say(harness, "m1", "done with")
    say(harness, "m3", "fail: push pending")
    ack_all(harness)
    harness.open_waitbox(harness.app_id, harness.ada, expires_in=40 * DAY)
    say(harness, "m4", "answers the waitbox")
    say(harness, "m2", "still queued")
    say(harness, "m1", "done with")  # a redelivery: a duplicate, in a delivery of its own
    push_all(harness)
    with harness.app.app_context():
        idempotency.claim("token:1", "key-1")
        rate_limits.count("token:1", 60)
        db.session.commit()

    clock.shift(31 * DAY)
    say(harness, "m5", "new")
    before = counts(harness)
    dry = prune(harness, "--dry-run")
    assert counts(harness) == before
    done = prune(harness)
    assert done["dry_run"] is False and dry["removed"] == done["removed"]
    assert done["removed"] == {
        "deliveries": 2, "messages": 2, "sends": 0, "send_attempts": 0,
        "conversation_entries": 1, "waitboxes": 0, "push_deliveries": 3, "push_attempts": 3, "idempotency_records": 1, "rate_counters": 1,
        "rejections": 0}
    assert done["total"] == 13
    # m2 is in Doorkeeper's queue, m3's push is pending, m4 answered a waitbox still kept.
    assert texts(harness) == ["answers the waitbox", "fail: push pending", "new", "still queued"]
    assert counts(harness)["push_deliveries"] == 2 and orphans(harness) == 0
    assert prune(harness)["total"] == 0

    clock.shift(40 * DAY)  # the waitbox expired 31 days ago; m2 is taken and acked
    ack_all(harness)
    removed = prune(harness)["removed"]
    assert (removed["waitboxes"], removed["deliveries"], removed["messages"]) == (1, 2, 2)
    assert texts(harness) == ["fail: push pending", "new"] and orphans(harness) == 0


def test_zero_keeps_forever(orqo, clock):
    harness = orqo(RETENTION_LEDGER_DAYS=0, RETENTION_PUSHES_DAYS=0,
                   RETENTION_IDEMPOTENCY_HOURS=0)
    say(harness, "m1")
    push_all(harness)
    with harness.app.app_context():
        idempotency.claim("token:1", "key-1")
        db.session.commit()
    before = counts(harness)
    clock.shift(3650 * DAY)
    assert prune(harness)["total"] == 0
    assert counts(harness) == before


def test_settled_pushes_go_before_the_ledger(orqo, clock):
    harness = orqo(PUSH_MAX_ATTEMPTS=1)
    say(harness, "m1")
    say(harness, "m2", "fail: ends dead")
    push_all(harness)
    clock.shift(8 * DAY)
    say(harness, "m3", "new")
    removed = prune(harness)["removed"]
    assert (removed["push_deliveries"], removed["push_attempts"]) == (2, 2)
    assert removed["deliveries"] == 0
    assert counts(harness)["messages"] == 3 and orphans(harness) == 0


def test_the_ledger_is_kept_at_least_seven_days(orqo, clock):
    # A platform may redeliver for days (Meta: 7): the claimed message is what makes that
    # redelivery a duplicate rather than a second routing.
    harness = orqo(RETENTION_LEDGER_DAYS=1)
    say(harness, "m1")
    push_all(harness)
    ack_all(harness)
    clock.shift(2 * DAY)
    assert prune(harness)["removed"]["deliveries"] == 0
    assert say(harness, "m1")["outcome"] == "duplicate"
    clock.shift(6 * DAY)  # the first delivery is 8 days old, the duplicate 6
    say(harness, "m2")
    assert prune(harness)["removed"]["deliveries"] == 1


def test_idempotency_records_stay_while_they_answer_a_repeated_key(orqo, clock):
    harness = orqo(RETENTION_IDEMPOTENCY_HOURS=1)
    with harness.app.app_context():
        idempotency.claim("token:1", "key-1")
        idempotency.remember("token:1", "key-1", 201, {"id": 1})
        db.session.commit()
    clock.shift(2 * 3600)
    assert prune(harness)["removed"]["idempotency_records"] == 0
    with harness.app.app_context():
        assert idempotency.claim("token:1", "key-1") == (201, {"id": 1})
        db.session.rollback()
    clock.shift(23 * 3600)
    assert prune(harness)["removed"]["idempotency_records"] == 1


def test_rate_counters_go_once_their_window_ended(orqo, clock):
    harness = orqo()
    with harness.app.app_context():
        rate_limits.count("hook:1", 60)
        db.session.commit()
    assert prune(harness)["removed"]["rate_counters"] == 0
    clock.shift(3700)
    assert prune(harness)["removed"]["rate_counters"] == 1


def test_the_worker_prunes_in_batches_and_logs_what_it_removed(orqo, clock, monkeypatch,
                                                                caplog):
    harness = orqo()
    for n in range(5):
        say(harness, f"m{n}")
    push_all(harness)
    ack_all(harness)
    clock.shift(31 * DAY)
    say(harness, "new")
    monkeypatch.setattr(retention, "BATCH_SIZE", 2)
    monkeypatch.setattr(worker, "PRUNE_ROUND_SECONDS", 0)  # one batch per round
    caplog.set_level(logging.INFO, logger="orqo.worker")
    # Pruning when it starts, one batch of two, then between its rounds of pushes: a round
    # that pushed "new" and one that found nothing due.
    worker.run(harness.app, once=True)
    assert counts(harness)["deliveries"] == 6 - 2 * 2
    assert caplog.text.count("(more are due: continuing)") == 2
    with harness.app.app_context():
        due = 0.0
        for _ in range(2):  # the rest; then the next pruning is an interval away
            due = worker.prune_when_due(harness.app.config, due)
        assert counts(harness)["deliveries"] == 1  # "new"
        later = worker.prune_when_due(harness.app.config, due)
        assert later == due  # done: the next pruning waits PRUNE_INTERVAL_SECONDS
    assert "pruned 2 rows: deliveries=2" not in caplog.text  # a batch removes children too
    assert "deliveries=2, messages=2, conversation_entries=2" in caplog.text
    assert orphans(harness) == 0


def test_the_worker_does_not_prune_when_the_interval_is_zero(orqo, clock):
    harness = orqo(PRUNE_INTERVAL_SECONDS=0)
    say(harness, "m1")
    push_all(harness)
    clock.shift(400 * DAY)
    worker.run(harness.app, once=True)
    assert counts(harness)["push_deliveries"] == 1


def test_slow_batches_get_smaller_and_pruning_still_finishes(orqo, clock, monkeypatch):
    harness = orqo()
    for n in range(5):
        say(harness, f"m{n}")
    push_all(harness)
    ack_all(harness)
    clock.shift(31 * DAY)
    say(harness, "new")
    monkeypatch.setattr(retention, "BATCH_SECONDS", 0.0)  # every batch counts as slow
    monkeypatch.setattr(retention, "FIRST_BATCH_SIZE", 4)
    monkeypatch.setattr(retention, "MIN_BATCH_SIZE", 1)
    assert prune(harness)["removed"]["deliveries"] == 5  # batches of 4, then 2 and 1
    assert counts(harness)["messages"] == 1 and orphans(harness) == 0


def test_pruned_ids_are_never_handed_out_again(orqo, clock):
    # SQLite without AUTOINCREMENT numbered a new row after the highest id left: an emptied
    # table would start again at 1, and a receiver deduplicating on webhook-id push_1 would
    # drop a new message.
    harness = orqo()
    say(harness, "m1")
    say(harness, "m2")
    push_all(harness)
    ack_all(harness)
    used = {entry["id"] for entry in push_ids(harness)}
    clock.shift(400 * DAY)
    removed = prune(harness)["removed"]
    assert (removed["deliveries"], removed["push_deliveries"]) == (2, 2)
    assert counts(harness)["push_deliveries"] == 0
    say(harness, "m3")
    [new] = [entry for entry in push_ids(harness) if entry["id"] not in used]
    assert new["id"] > max(used)


def test_rejection_counts_go_with_the_ledger(orqo, clock):
    harness = orqo(REJECTION_RATE_LIMIT=0)
    for _ in range(3):
        harness.deliver(harness.app_id, b"{}", {"X-Fake-Token": "wrong"})
    clock.shift(20 * DAY)
    harness.deliver(harness.app_id, b"{}", {"X-Fake-Token": "wrong"})  # another window's row
    assert counts(harness)["rejections"] == 2
    clock.shift(15 * DAY)  # the first window's row was last added to 35 days ago
    removed = prune(harness)["removed"]
    assert removed["rejections"] == 1 and counts(harness)["rejections"] == 1


def test_a_worker_without_a_push_url_still_prunes(make_app, clock):
    harness = Harness(make_app(plugins=[fake_adapter]))
    harness.app_id = harness.add_app("fake", {"token": "t"})
    for _ in range(2):  # deliveries routing nothing: in the ledger, in no queue
        assert harness.deliver(harness.app_id, b"{}", {"X-Fake-Token": "t"}).status_code == 200
        clock.shift(31 * DAY)
    result = harness.app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert counts(harness)["deliveries"] == 0


def test_prune_removes_old_settled_outbound_messages_and_keeps_queued_ones(make_app, clock):
    import requests_mock

    from tests.test_outbound import message, queue, sending_harness, work

    agent = sending_harness(make_app(plugins=[fake_adapter]))
    with requests_mock.Mocker() as platform:
        platform.post("http://127.0.0.1:9/send", [{"json": {"ok": True, "id": "x"}},
                                                  {"status_code": 503, "json": {}}])
        sent = queue(agent, text="sent").json
        work(agent)
        clock.shift(2)
        waiting = queue(agent, text="still queued").json
        work(agent)
    clock.shift(31 * 86400)
    with agent.app.app_context():
        pruned = retention.prune(agent.app.config)
    assert pruned.removed["sends"] == 1 and pruned.removed["messages"] == 1
    assert pruned.removed["send_attempts"] == 1
    assert pruned.removed["conversation_entries"] == 1
    assert agent.client.get(f"/api/v1/messages/{sent['id']}",
                            headers=agent.auth).status_code == 404
    assert message(agent, waiting["id"])["status"] == "queued"
