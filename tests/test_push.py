"""Pushing routed messages to the agent runtime: outbox, signing, backoff, dead letters."""
import base64
import json
import time

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from orqo.errors import ConfigError
from orqo.services import push
from orqo.testing import Harness
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery

URL = "https://agents.example.test/orqo"
SECRET = "whsec_" + base64.b64encode(b"push-secret-32-bytes-long-012345").decode()


@pytest.fixture
def pushing(make_app):
    app = make_app(plugins=[fake_adapter], AGENT_PUSH_URL=URL, AGENT_PUSH_SECRET=SECRET,
                   PUSH_BACKOFF_BASE=0.01, PUSH_BACKOFF_MAX=0.05, PUSH_MAX_ATTEMPTS=4)
    harness = Harness(app)
    harness.app_id = harness.add_app("fake", {"token": "t"})
    harness.ada = harness.add_contact({harness.app_id: "ada"})
    return harness


def route(harness, message_id, text="hi"):
    body = delivery({"sender": "ada", "id": message_id, "text": text})
    return harness.deliver(harness.app_id, body, {"X-Fake-Token": "t"}).json


def drain(harness, rounds=20):
    """Run the worker's loop body until nothing is due (backoffs here are milliseconds)."""
    with harness.app.app_context(), requests.Session() as session:
        for _ in range(rounds):
            if push.process_due(session) == 0:
                time.sleep(0.06)
                if push.process_due(session) == 0:
                    return


def pushes(harness):
    with harness.app.app_context():
        return [push.describe_push(p) for p in push.list_pushes()]


def test_push_is_signed_so_the_standardwebhooks_library_verifies_it(pushing, requests_mock):
    requests_mock.post(URL, status_code=204)
    waitbox = pushing.open_waitbox(pushing.app_id, pushing.ada, reference="run-1")
    route(pushing, "m1", text="Grüezi 👋")
    drain(pushing)
    [request] = requests_mock.request_history
    payload = Webhook(SECRET).verify(request.body, dict(request.headers))
    assert payload["handler"] == "waitbox"
    assert payload["route"] == {"waitbox_id": waitbox, "reference": "run-1"}
    assert payload["message"]["text"] == "Grüezi 👋"
    assert request.headers["webhook-id"] == f"push_{pushes(pushing)[0]['id']}"
    assert pushes(pushing)[0]["status"] == "delivered"


def test_failures_back_off_then_deliver_and_every_attempt_is_recorded(pushing, requests_mock):
    requests_mock.post(URL, [{"status_code": 500}, {"exc": requests.ConnectTimeout},
                             {"status_code": 502}, {"status_code": 200}])
    route(pushing, "m1")
    drain(pushing)
    [entry] = pushes(pushing)
    assert entry["status"] == "delivered"
    assert [a["status_code"] for a in entry["attempt_log"]] == [500, None, 502, 200]
    assert "ConnectTimeout" in entry["attempt_log"][1]["error"]
    ids = {r.headers["webhook-id"] for r in requests_mock.request_history}
    assert len(ids) == 1  # the same id on every attempt, so receivers can dedupe


def test_always_failing_receiver_ends_dead_lettered(pushing, requests_mock):
    requests_mock.post(URL, status_code=503)
    route(pushing, "m1")
    drain(pushing)
    [entry] = pushes(pushing)
    assert entry["status"] == "dead"
    assert len(entry["attempt_log"]) == 4
    runner = pushing.app.test_cli_runner()
    assert json.loads(runner.invoke(args=["pushes", "list", "--status", "dead", "--json"]).output)
    requests_mock.post(URL, status_code=200)
    assert runner.invoke(args=["pushes", "retry", str(entry["id"])]).exit_code == 0
    drain(pushing)
    assert pushes(pushing)[0]["status"] == "delivered"
    assert len(pushes(pushing)[0]["attempt_log"]) == 5


def test_gone_ends_at_once(pushing, requests_mock):
    requests_mock.post(URL, status_code=410)
    route(pushing, "m1")
    drain(pushing)
    assert pushes(pushing)[0]["status"] == "dead"
    assert len(pushes(pushing)[0]["attempt_log"]) == 1


def test_retry_after_is_honoured():
    config = {"PUSH_BACKOFF_BASE": 2.0, "PUSH_BACKOFF_MAX": 3600.0}
    slow_down = push.AttemptResult(False, 429, retry_after=120.0)
    assert push.next_delay(1, slow_down, config) == 120.0
    assert push.next_delay(1, push.AttemptResult(False, 429, retry_after=10 ** 6), config) == 3600
    plain = [push.next_delay(3, push.AttemptResult(False, 500), config) for _ in range(50)]
    assert all(4.0 <= d <= 8.0 for d in plain) and len(set(plain)) > 1  # 2 * 2**2, jittered
    assert push.parse_retry_after("30") == 30.0
    assert push.parse_retry_after("soon") is None
    assert push.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_duplicates_and_unknown_senders_are_not_pushed(pushing, requests_mock):
    requests_mock.post(URL, status_code=200)
    route(pushing, "m1")
    route(pushing, "m1")
    pushing.deliver(pushing.app_id, delivery({"sender": "nobody", "id": "x"}),
                    {"X-Fake-Token": "t"})
    assert len(pushes(pushing)) == 1


def test_no_push_without_a_url(fake):
    fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1"}), fake.headers)
    assert pushes(fake) == []


@pytest.mark.parametrize("secret", [None, "", "plain-secret", "whsec_!!!"])
def test_a_push_url_without_a_valid_secret_fails_at_startup(make_app, secret):
    with pytest.raises(ConfigError, match="AGENT_PUSH_SECRET"):
        make_app(AGENT_PUSH_URL=URL, AGENT_PUSH_SECRET=secret)


def test_worker_command_without_a_push_url_or_pruning_still_sends_messages(make_app):
    # Messages agents queue (POST /api/v1/messages) are always the worker's to send.
    runner = make_app(PRUNE_INTERVAL_SECONDS=0).test_cli_runner()
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
