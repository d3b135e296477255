"""Workflow triggers: token URLs, the API trigger, idempotency, rate limits, runs, App Events."""
import json

import pytest

from orqo.extensions import db
from orqo.models import WorkflowRun
from orqo.services import triggers as trigger_service
from orqo.services import workflows as workflow_service
from orqo.services.tokens import issue_token
from tests.plugins.fake_adapter import delivery


@pytest.fixture
def wf(fake):
    """The fake harness with a workflow, a token URL for it and API tokens."""
    with fake.app.app_context():
        fake.workflow_id = workflow_service.create_workflow("triage").id
        trigger, token = trigger_service.create_webhook_trigger(fake.workflow_id)
        fake.trigger_id, fake.hook = trigger.id, f"/api/v1/hooks/{token}"
        fake.trigger_auth = {"Authorization": f"Bearer {issue_token('ci', ['trigger'])[1]}"}
        fake.agent_auth = {"Authorization": f"Bearer {issue_token('exec', ['agent'])[1]}"}
    return fake


def runs(harness):
    with harness.app.app_context():
        return [workflow_service.describe_run(r) for r in workflow_service.list_runs()]


def test_token_url_starts_a_run_with_the_body_as_input(wf):
    response = wf.client.post(wf.hook, json={"event": "push", "branch": "main"})
    assert response.status_code == 201
    assert response.json == {"workflow_run_id": response.json["workflow_run_id"],
                             "status": "started"}
    run = wf.client.get(f"/api/v1/runs/{response.json['workflow_run_id']}",
                        headers=wf.agent_auth).json
    assert run["input"] == {"event": "push", "branch": "main"}
    assert run["trigger_kind"] == "webhook" and run["status"] == "queued"


def test_token_is_43_urlsafe_characters(wf):
    token = wf.hook.rsplit("/", 1)[1]
    assert len(token) == 43 and all(c.isalnum() or c in "-_" for c in token)


def test_empty_body_is_empty_input(wf):
    response = wf.client.post(wf.hook)
    assert response.status_code == 201
    assert runs(wf)[0]["input"] == {}


@pytest.mark.parametrize("data,content_type,status", [
    (b"event=push", "application/x-www-form-urlencoded", 415),
    (b"plain words", "text/plain", 415),
    (b'{"event": ', "application/json", 422),
    (b"\xff\xfe", "application/json", 422),
])
def test_a_body_that_is_not_json_is_a_clear_4xx(wf, data, content_type, status):
    response = wf.client.post(wf.hook, data=data, content_type=content_type)
    assert response.status_code == status
    assert response.json["error"]["message"]
    assert runs(wf) == []


@pytest.mark.parametrize("token", ["A" * 43, "short", "../../etc", "x" * 500])
def test_unknown_or_malformed_token_is_the_same_404(wf, token):
    response = wf.client.post(f"/api/v1/hooks/{token}", json={})
    assert response.status_code == 404
    assert response.json == {"error": {"code": "not_found", "details": {},
                                       "message": "No webhook trigger has this URL."}}


def test_disabled_trigger_is_409_and_enabled_again_works(wf):
    runner = wf.app.test_cli_runner()
    assert runner.invoke(args=["triggers", "disable", str(wf.trigger_id)]).exit_code == 0
    assert wf.client.post(wf.hook, json={}).status_code == 409
    assert runner.invoke(args=["triggers", "enable", str(wf.trigger_id)]).exit_code == 0
    assert wf.client.post(wf.hook, json={}).status_code == 201


def test_disabled_workflow_is_422_run_not_started(wf):
    wf.app.test_cli_runner().invoke(args=["workflows", "disable", str(wf.workflow_id)])
    response = wf.client.post(wf.hook, json={})
    assert response.status_code == 422 and response.json["error"]["code"] == "run_not_started"


def test_body_over_the_limit_is_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=100)
    with app.app_context():
        workflow_id = workflow_service.create_workflow("w").id
        _trigger, token = trigger_service.create_webhook_trigger(workflow_id)
    response = app.test_client().post(f"/api/v1/hooks/{token}", json={"x": "y" * 500})
    assert response.status_code == 413


def test_rotation_keeps_the_old_url_until_its_time(wf, clock):
    result = wf.app.test_cli_runner().invoke(args=["triggers", "rotate", str(wf.trigger_id),
                                                   "--keep-old-for", "60"])
    new_hook = json.loads(result.output)["url_path"]
    assert new_hook != wf.hook
    assert wf.client.post(wf.hook, json={}).status_code == 201
    assert wf.client.post(new_hook, json={}).status_code == 201
    clock.shift(61)
    assert wf.client.post(wf.hook, json={}).status_code == 404
    assert wf.client.post(new_hook, json={}).status_code == 201


def test_api_trigger_starts_a_run(wf):
    response = wf.client.post("/api/v1/trigger", headers=wf.trigger_auth, json={
        "workflow_id": wf.workflow_id, "input": "summarise the ticket",
        "metadata": {"ticket": 7}})
    assert response.status_code == 201
    run = runs(wf)[0]
    assert run["input"] == "summarise the ticket" and run["metadata"] == {"ticket": 7}
    assert run["trigger_kind"] == "api"


def test_api_trigger_accepts_task_for_input(wf):
    response = wf.client.post("/api/v1/trigger", headers=wf.trigger_auth,
                              json={"workflow_id": wf.workflow_id, "task": "do it"})
    assert response.status_code == 201 and runs(wf)[0]["input"] == "do it"


@pytest.mark.parametrize("headers,body,status", [
    ({}, {"workflow_id": 1}, 401),
    ({"Authorization": "Bearer orqo_wrong"}, {"workflow_id": 1}, 401),
    ("agent", {"workflow_id": 1}, 403),
    ("trigger", {"workflow_id": 999}, 404),
    ("trigger", {"input": "x"}, 422),
    ("trigger", {"workflow_id": "1"}, 422),
    ("trigger", {"workflow_id": 1, "input": "a", "task": "b"}, 422),
    ("trigger", [1, 2], 422),
])
def test_api_trigger_errors(wf, headers, body, status):
    if isinstance(headers, str):
        headers = {"agent": wf.agent_auth, "trigger": wf.trigger_auth}[headers]
    if isinstance(body, dict) and body.get("workflow_id") == 1:
        body = {**body, "workflow_id": wf.workflow_id}
    response = wf.client.post("/api/v1/trigger", headers=headers, json=body)
    assert response.status_code == status, response.json
    assert set(response.json["error"]) == {"code", "message", "details"}


def test_repeated_idempotency_key_starts_one_run_on_both_endpoints(wf):
    key = {"Idempotency-Key": "deploy-2026-11-29-1"}
    first = wf.client.post(wf.hook, json={"n": 1}, headers=key)
    again = wf.client.post(wf.hook, json={"n": 1}, headers=key)
    assert first.status_code == again.status_code == 201
    assert first.json == again.json
    api_first = wf.client.post("/api/v1/trigger", headers={**wf.trigger_auth, **key},
                               json={"workflow_id": wf.workflow_id})
    api_again = wf.client.post("/api/v1/trigger", headers={**wf.trigger_auth, **key},
                               json={"workflow_id": wf.workflow_id})
    assert api_first.json == api_again.json != first.json  # keys are per caller
    assert len(runs(wf)) == 2


def test_idempotency_key_over_24_hours_old_starts_a_new_run(wf):
    from datetime import timedelta

    from orqo.models import IdempotencyRecord

    key = {"Idempotency-Key": "k1"}
    first = wf.client.post(wf.hook, json={}, headers=key).json
    with wf.app.app_context():
        record = db.session.query(IdempotencyRecord).one()
        record.created_at = record.created_at - timedelta(hours=25)
        db.session.commit()
    later = wf.client.post(wf.hook, json={}, headers=key).json
    assert later["workflow_run_id"] != first["workflow_run_id"]


def test_rate_limit_is_429_with_retry_after(make_app):
    app = make_app(TRIGGER_RATE_LIMIT=3)
    with app.app_context():
        workflow_id = workflow_service.create_workflow("w").id
        _t, token = trigger_service.create_webhook_trigger(workflow_id)
    client = app.test_client()
    statuses = [client.post(f"/api/v1/hooks/{token}", json={}).status_code for _ in range(5)]
    assert statuses[:3] == [201] * 3 and statuses[3:] == [429, 429]
    limited = client.post(f"/api/v1/hooks/{token}", json={})
    assert 1 <= int(limited.headers["Retry-After"]) <= 60


def test_executor_claims_runs_with_a_lease_and_reports_progress(wf, clock):
    for n in range(2):
        wf.client.post(wf.hook, json={"n": n})
    claim = wf.client.post("/api/v1/runs/claims", headers=wf.agent_auth,
                           json={"claimant": "executor-1", "lease_seconds": 20}).json
    assert [r["input"]["n"] for r in claim["runs"]] == [0, 1]
    first, second = (r["id"] for r in claim["runs"])
    report = lambda run_id, status, token=claim["claim_token"]: wf.client.post(  # noqa: E731
        f"/api/v1/runs/{run_id}/progress", headers=wf.agent_auth,
        json={"claim_token": token, "status": status, "output": {"ok": True}})
    assert report(first, "started").json["status"] == "started"
    assert report(first, "succeeded").json["status"] == "succeeded"
    assert report(first, "failed").status_code == 409  # already ended
    clock.shift(21)  # the second run's lease ends without a report
    again = wf.client.post("/api/v1/runs/claims", headers=wf.agent_auth,
                           json={"claimant": "executor-2"}).json
    assert [r["id"] for r in again["runs"]] == [second]
    assert report(second, "succeeded").status_code == 409  # the old claim lost it
    assert report(second, "succeeded", again["claim_token"]).status_code == 200


def test_app_with_doorkeeper_off_starts_matching_app_event_runs(make_app):
    from orqo.testing import Harness
    from tests.plugins import fake_adapter

    harness = Harness(make_app(plugins=[fake_adapter]))
    with harness.app.app_context():
        from orqo.services.apps import create_app_record

        app_id = create_app_record("ops", "fake", {"token": "t"}, {},
                                   route_to_doorkeeper=False).id
        workflow_id = workflow_service.create_workflow("incident").id
        trigger_service.create_app_event_trigger(workflow_id, app_id,
                                                 {"text_pattern": r"(?i)\bincident\b"})
    contact = harness.add_contact({app_id: "ada"})
    headers = {"X-Fake-Token": "t"}
    body = delivery({"sender": "ada", "id": "m1", "text": "INCIDENT: db is down"})
    routed = harness.deliver(app_id, body, headers).json["messages"][0]
    assert routed == {"outcome": "routed", "handler": "app_event"}
    unmatched = harness.deliver(app_id, delivery({"sender": "ada", "id": "m2", "text": "hi"}),
                                headers).json["messages"][0]
    assert unmatched == {"outcome": "no_route", "handler": "app_event"}
    [run] = runs(harness)
    assert run["trigger_kind"] == "app_event"
    assert run["input"]["text"] == "INCIDENT: db is down" and run["input"]["contact_id"] == contact
    waitbox = harness.open_waitbox(app_id, contact)  # a waiting agent still comes first
    harness.deliver(app_id, delivery({"sender": "ada", "id": "m3", "text": "incident ack"}),
                    headers)
    assert harness.waitbox(waitbox)["status"] == "answered"
    assert len(runs(harness)) == 1


def test_app_event_filter_is_validated(wf):
    from orqo.errors import ApiError

    with wf.app.app_context(), pytest.raises(ApiError) as excinfo:
        trigger_service.create_app_event_trigger(wf.workflow_id, wf.app_id,
                                                 {"text_pattern": "(unclosed", "colour": "red"})
    assert set(excinfo.value.details["filter"]) == {"text_pattern", "colour"}


def test_secrets_are_stored_only_as_hashes(wf):
    token = wf.hook.rsplit("/", 1)[1]
    with wf.app.app_context():
        rows = db.session.execute(db.text("SELECT * FROM webhook_triggers")).all()
        rows += db.session.execute(db.text("SELECT * FROM api_tokens")).all()
    dumped = repr(rows)
    assert token not in dumped
    assert wf.trigger_auth["Authorization"].split()[1] not in dumped
    assert db is not None and WorkflowRun is not None


def test_no_text_pattern_can_stall_the_webhook_path(make_app):
    """``^(a+)+$`` against 40 a's and a "!" hung a worker (Python's backtracking ``re``) until
    gunicorn killed it; RE2 matches in time linear in the text."""
    import threading

    from orqo.testing import Harness
    from tests.plugins import fake_adapter

    harness = Harness(make_app(plugins=[fake_adapter]))
    with harness.app.app_context():
        from orqo.services.apps import create_app_record

        app_id = create_app_record("ops", "fake", {"token": "t"}, {},
                                   route_to_doorkeeper=False).id
        workflow_id = workflow_service.create_workflow("evil").id
        for pattern in (r"^(a+)+$", r"^(a|a)*$", r"(x+x+)+y"):
            trigger_service.create_app_event_trigger(workflow_id, app_id,
                                                     {"text_pattern": pattern})
    harness.add_contact({app_id: "ada"})
    answers = []
    body = delivery({"sender": "ada", "id": "m1", "text": "a" * 40 + "!" + "x" * 40})
    sender = threading.Thread(target=lambda: answers.append(
        harness.deliver(app_id, body, {"X-Fake-Token": "t"})), daemon=True)
    sender.start()
    sender.join(timeout=20)  # a bound, not a speed check: backtracking takes 2**40 steps
    assert answers, "the delivery was still being matched after 20 s"
    assert answers[0].json["messages"] == [{"outcome": "no_route", "handler": "app_event"}]


@pytest.mark.parametrize("pattern", [r"(a)\1", r"foo(?=bar)", r"(?<!x)y"])
def test_patterns_re2_cannot_match_in_linear_time_are_refused(wf, pattern):
    from orqo.errors import ApiError

    with wf.app.app_context(), pytest.raises(ApiError) as excinfo:
        trigger_service.create_app_event_trigger(wf.workflow_id, wf.app_id,
                                                 {"text_pattern": pattern})
    assert excinfo.value.status == 422
    [message] = excinfo.value.details["filter"]["text_pattern"]
    assert message.startswith("not a regular expression RE2 accepts")
