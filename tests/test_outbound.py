"""Agents reply through the platform: POST /api/v1/messages, the worker's sending, replies
bound to the question they answer (issue 16), with the fake adapter's send stage mocked by
requests-mock."""
import pytest
import requests_mock

from orqo import deadlines
from orqo.extensions import db
from orqo.models import Send
from orqo.services import sending
from orqo.services.tokens import issue_token
from orqo.testing import Harness
from tests.conftest import TOKEN
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery

SEND_URL = "http://127.0.0.1:9/send"


def sending_harness(app) -> Harness:
    """A Harness with a fake App, its Contact ``ada`` and an agent token (``.auth``)."""
    harness = Harness(app)
    harness.app_id = harness.add_app("fake", {"token": TOKEN})
    harness.ada = harness.add_contact({harness.app_id: "ada"})
    harness.headers = {"X-Fake-Token": TOKEN}
    with app.app_context():
        _token, secret = issue_token("agent runtime", ["agent"])
    harness.auth = {"Authorization": f"Bearer {secret}"}
    return harness


@pytest.fixture
def agent(app):
    return sending_harness(app)


@pytest.fixture
def platform():
    with requests_mock.Mocker() as mocker:
        yield mocker


def queue(agent, **fields):
    body = {"app_id": agent.app_id, "contact_id": agent.ada, "text": "Which day suits you?",
            **fields}
    return agent.client.post("/api/v1/messages", headers=agent.auth, json=body)


def work(agent) -> int:
    """One round of the worker's sending; how many messages were attempted."""
    with agent.app.app_context(), deadlines.make_session() as session:
        return sending.process_due(session)


def message(agent, message_id) -> dict:
    response = agent.client.get(f"/api/v1/messages/{message_id}", headers=agent.auth)
    assert response.status_code == 200, response.json
    return response.json


def receive(agent, message_id, text="Tuesday", **fields):
    body = delivery({"sender": "ada", "id": message_id, "text": text, **fields})
    response = agent.deliver(agent.app_id, body, agent.headers)
    assert response.status_code == 200, response.json
    return agent.ledger(agent.app_id)[0]["messages"][0]  # with its id and handler_ref


def test_a_queued_message_is_sent_by_the_worker_and_reads_back_sent(agent, platform):
    platform.post(SEND_URL, json={"ok": True, "id": "out-1"})
    queued = queue(agent)
    assert queued.status_code == 202, queued.json
    assert queued.json["direction"] == "outbound" and queued.json["status"] == "queued"
    assert queued.json["platform_message_id"] is None and queued.json["attempts"] == 0
    assert work(agent) == 1
    assert platform.last_request.json() == {"to": "ada", "chat": None,
                                            "text": "Which day suits you?", "reply_to": None,
                                            "orqo_id": queued.json["id"]}
    sent = message(agent, queued.json["id"])
    assert sent["status"] == "sent" and sent["platform_message_id"] == "out-1"
    assert sent["chat_id"] == "ada" and sent["attempts"] == 1 and sent["last_error"] == ""
    assert work(agent) == 0  # sent once only


def test_a_reply_goes_to_the_received_message_and_joins_its_conversation(agent, platform):
    platform.post(SEND_URL, json={"ok": True, "id": "out-2"})
    inbound = receive(agent, "in-1", "Can we meet?", chat="room-7")
    queued = queue(agent, in_reply_to=inbound["id"])
    assert queued.json["chat_id"] == "room-7" and queued.json["in_reply_to"] == inbound["id"]
    work(agent)
    assert platform.last_request.json()["reply_to"] == "in-1"
    assert platform.last_request.json()["chat"] == "room-7"
    conversation_id = int(inbound["handler_ref"])
    entries = agent.client.get(f"/api/v1/conversations/{conversation_id}",
                               headers=agent.auth).json["messages"]
    assert [(e["message"]["direction"], e["status"]) for e in entries] == [
        ("inbound", "queued"), ("outbound", "outbound")]
    assert entries[1]["message"]["text"] == "Which day suits you?"
    received = message(agent, inbound["id"])
    assert received["direction"] == "inbound" and received["status"] == "received"
    assert received["outcome"] == "routed" and received["handler"] == "doorkeeper"


def test_an_answer_pointing_at_the_question_takes_its_waitbox_before_older_ones(agent, platform):
    platform.post(SEND_URL, json={"ok": True, "id": "question-1"})
    older = agent.open_waitbox(agent.app_id, agent.ada, reference="older")
    queued = queue(agent, await_reply={"expires_in": 600, "reference": "which-day"})
    bound = queued.json["waitbox"]
    assert bound["question_id"] == queued.json["id"] and bound["status"] == "waiting"
    work(agent)
    answer = receive(agent, "in-2", reply_to="question-1")
    assert answer["handler"] == "waitbox" and answer["handler_ref"] == str(bound["id"])
    assert agent.waitbox(bound["id"])["status"] == "answered"
    assert agent.waitbox(older)["status"] == "waiting"
    # A message that points at nothing keeps today's rule: the oldest open waitbox.
    plain = receive(agent, "in-3", "by the way")
    assert plain["handler_ref"] == str(older)


def test_a_reply_to_an_unknown_message_keeps_todays_rule(agent, platform):
    older = agent.open_waitbox(agent.app_id, agent.ada)
    answer = receive(agent, "in-4", reply_to="something-else")
    assert answer["handler_ref"] == str(older)


def test_a_rate_limit_is_retried_after_the_platforms_wait(agent, platform, clock):
    platform.post(SEND_URL, [{"status_code": 429, "headers": {"Retry-After": "30"},
                              "json": {"error": "slow down"}},
                             {"json": {"ok": True, "id": "out-3"}}])
    queued = queue(agent).json
    assert work(agent) == 1
    held = message(agent, queued["id"])
    assert held["status"] == "queued" and held["attempts"] == 1
    assert "HTTP 429" in held["last_error"] and held["next_attempt_at"]
    assert work(agent) == 0  # not due before the 30 s
    clock.shift(31)
    assert work(agent) == 1
    sent = message(agent, queued["id"])
    assert sent["status"] == "sent"
    log = sent["attempt_log"]
    assert [(a["result"], a["error"]) for a in log] == [("retry", held["last_error"]),
                                                       ("sent", "")]
    assert log[0]["attempted_at"] < log[1]["attempted_at"]
    assert all(a["duration_ms"] >= 0 for a in log)


def test_a_permanent_failure_fails_at_once_and_cancels_the_bound_waitbox(agent, platform):
    platform.post(SEND_URL, status_code=403, json={"error": "bot was blocked by the user"})
    queued = queue(agent, await_reply={"expires_in": 600}).json
    work(agent)
    failed = message(agent, queued["id"])
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["last_error"] == "bot was blocked by the user"
    assert failed["waitbox"]["status"] == "cancelled"
    assert [(a["result"], a["error"]) for a in failed["attempt_log"]] == [
        ("failed", "bot was blocked by the user")]
    assert work(agent) == 0


def test_an_unreachable_platform_is_retried_until_the_attempts_run_out(make_app, platform,
                                                                      clock):
    agent = sending_harness(make_app(plugins=[fake_adapter], SEND_MAX_ATTEMPTS=2,
                                     SEND_BACKOFF_MAX=5))
    platform.post(SEND_URL, exc=deadlines.DeadlineExceeded("no answer"))
    queued = queue(agent).json
    work(agent)
    first = message(agent, queued["id"])
    assert first["status"] == "queued" and "could not be reached" in first["last_error"]
    clock.shift(6)
    work(agent)
    assert message(agent, queued["id"])["status"] == "failed"


def test_one_chat_gets_its_messages_in_order_and_paced(agent, platform, clock):
    platform.post(SEND_URL, [{"status_code": 503, "json": {}},
                             {"json": {"ok": True, "id": "a"}},
                             {"json": {"ok": True, "id": "b"}}])
    first, second = queue(agent, text="first").json, queue(agent, text="second").json
    assert work(agent) == 1  # the first fails for now: the second waits behind it
    assert message(agent, second["id"])["attempts"] == 0
    clock.shift(5)
    assert work(agent) == 1  # the first is sent; the second waits for the chat's pace (1 s)
    assert message(agent, first["id"])["status"] == "sent"
    assert message(agent, second["id"])["status"] == "queued"
    clock.shift(1.5)
    assert work(agent) == 1
    assert [r.json()["text"] for r in platform.request_history] == ["first", "first", "second"]


def test_an_idempotency_key_queues_one_message(agent, platform):
    headers = {**agent.auth, "Idempotency-Key": "reply-77"}
    body = {"app_id": agent.app_id, "contact_id": agent.ada, "text": "Once"}
    first = agent.client.post("/api/v1/messages", headers=headers, json=body)
    again = agent.client.post("/api/v1/messages", headers=headers, json=body)
    assert first.status_code == again.status_code == 202
    assert first.json["id"] == again.json["id"]
    with agent.app.app_context():
        assert db.session.query(Send).count() == 1


@pytest.mark.parametrize("fields, field", [
    ({"app_id": "nope"}, "app_id"),
    ({"contact_id": 999}, "contact_id"),
    ({"contact_id": "1"}, "contact_id"),
    ({"text": ""}, "text"),
    ({"text": "   "}, "text"),
    ({"text": "x" * 40_001}, "text"),
    ({"in_reply_to": 12345}, "in_reply_to"),
    ({"await_reply": {"expires_in": 0}}, "await_reply"),
    ({"extra": 1}, "extra"),
])
def test_a_message_that_cannot_be_queued_is_422_naming_the_field(agent, fields, field):
    response = queue(agent, **fields)
    assert response.status_code == 422, response.json
    assert field in response.json["error"]["details"]


def test_an_app_whose_adapter_cannot_send_is_422(agent, make_app):
    with agent.app.app_context():
        from orqo.services import apps

        other = apps.create_app_record("slackless", "fake", {"token": TOKEN}, {}).id
        from orqo.models import App
        app_row = db.session.get(App, other)
        app_row.adapter = "gone"
        db.session.commit()
    response = queue(agent, app_id=other)
    assert response.status_code == 422 and "not installed" in str(response.json)


def test_messages_need_an_agent_token_and_unknown_ids_are_404(agent):
    assert agent.client.post("/api/v1/messages", json={}).status_code == 401
    assert agent.client.get("/api/v1/messages/1").status_code == 401
    missing = agent.client.get("/api/v1/messages/424242", headers=agent.auth)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_the_cli_queues_and_shows_a_message(agent, platform):
    runner = agent.app.test_cli_runner()
    result = runner.invoke(args=["messages", "send", "--app", agent.app_id, "--contact",
                                 str(agent.ada), "--text", "Hello from the CLI",
                                 "--await-reply", "60"])
    assert result.exit_code == 0, result.output
    assert '"status": "queued"' in result.output and '"question_id"' in result.output
    bad = runner.invoke(args=["messages", "send", "--app", "nope", "--contact", "1",
                              "--text", "x"])
    assert bad.exit_code != 0 and len(bad.output.strip().splitlines()) == 1


def test_a_reason_quoting_a_credential_is_stored_without_it(agent, platform):
    platform.post(SEND_URL, status_code=400, json={"error": f"bad token {TOKEN}"})
    queued = queue(agent).json
    work(agent)
    failed = message(agent, queued["id"])
    assert failed["last_error"] == "bad token [redacted]" and TOKEN not in str(failed)
