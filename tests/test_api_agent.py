"""The agent side of the API: tokens, waitboxes, Doorkeeper's queue and conversations."""
import json
import time

import pytest

from orqo.services.tokens import issue_token
from tests.plugins.fake_adapter import delivery


@pytest.fixture
def agent(fake):
    """The ``fake`` harness plus an agent token (``agent.auth`` headers)."""
    with fake.app.app_context():
        _token, secret = issue_token("agent runtime", ["agent"])
    fake.auth = {"Authorization": f"Bearer {secret}"}
    fake.secret = secret
    return fake


def send(harness, message_id, text="hello", **fields):
    body = delivery({"sender": "ada", "id": message_id, "text": text, **fields})
    return harness.deliver(harness.app_id, body, harness.headers).json["messages"][0]


def test_requests_without_a_valid_token_are_401(agent):
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": f"Bearer {agent.secret}x"}):
        response = agent.client.get("/api/v1/waitboxes/1", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_the_scope_is_403_and_admin_has_every_scope(agent):
    with agent.app.app_context():
        _t, trigger_only = issue_token("ci", ["trigger"])
        _t, admin = issue_token("ops", ["admin"])
    denied = agent.client.get("/api/v1/waitboxes/1",
                              headers={"Authorization": f"Bearer {trigger_only}"})
    assert denied.status_code == 403
    allowed = agent.client.get("/api/v1/waitboxes/1", headers={"Authorization": f"Bearer {admin}"})
    assert allowed.status_code == 404


def test_revoked_token_is_401_at_once(agent):
    runner = agent.app.test_cli_runner()
    listed = runner.invoke(args=["tokens", "list", "--json"])
    assert agent.secret not in listed.output
    assert agent.secret not in runner.invoke(args=["tokens", "list"]).output
    token_id = json.loads(listed.output)[0]["id"]
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0
    assert agent.client.get("/api/v1/waitboxes/1", headers=agent.auth).status_code == 401


def test_waitbox_lifecycle_over_the_api(agent):
    created = agent.client.post("/api/v1/waitboxes", headers=agent.auth, json={
        "app_id": agent.app_id, "contact_id": agent.ada, "expires_in": 600,
        "reference": "run-42/step-approve"})
    assert created.status_code == 201, created.json
    waitbox = created.json
    assert waitbox["status"] == "waiting" and waitbox["message"] is None
    assert send(agent, "m1", text="Approved ✅")["handler"] == "waitbox"
    answered = agent.client.get(f"/api/v1/waitboxes/{waitbox['id']}", headers=agent.auth).json
    assert answered["status"] == "answered"
    assert answered["message"]["text"] == "Approved ✅"
    assert answered["message"]["contact_id"] == agent.ada
    conflict = agent.client.delete(f"/api/v1/waitboxes/{waitbox['id']}", headers=agent.auth)
    assert conflict.status_code == 409


def test_cancelled_waitbox_takes_nothing(agent):
    waitbox = agent.client.post("/api/v1/waitboxes", headers=agent.auth, json={
        "app_id": agent.app_id, "contact_id": agent.ada, "expires_in": 600}).json
    cancelled = agent.client.delete(f"/api/v1/waitboxes/{waitbox['id']}", headers=agent.auth)
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    assert send(agent, "m1")["handler"] == "doorkeeper"


def test_late_reply_after_expiry_goes_to_doorkeeper_and_the_waitbox_stays_expired(agent):
    waitbox = agent.client.post("/api/v1/waitboxes", headers=agent.auth, json={
        "app_id": agent.app_id, "contact_id": agent.ada, "expires_in": 0.05}).json
    time.sleep(0.1)
    assert send(agent, "m1")["handler"] == "doorkeeper"
    got = agent.client.get(f"/api/v1/waitboxes/{waitbox['id']}", headers=agent.auth).json
    assert got["status"] == "expired" and got["message"] is None


@pytest.mark.parametrize("body,field", [
    ({"contact_id": 1, "expires_in": 5}, "app_id"),
    ({"app_id": "x", "contact_id": "1", "expires_in": 5}, "contact_id"),
    ({"app_id": "x", "contact_id": 1, "expires_in": -1}, "expires_in"),
    ({"app_id": "x", "contact_id": 1, "expires_in": 5, "surprise": True}, "surprise"),
])
def test_invalid_waitbox_requests_are_422_with_field_details(agent, body, field):
    response = agent.client.post("/api/v1/waitboxes", headers=agent.auth, json=body)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    assert field in response.json["error"]["details"]


def test_waitbox_for_a_contact_without_a_channel_on_the_app_is_422(agent):
    bob = agent.add_contact({agent.add_app("fake", {"token": "t"}, name="Other"): "bob"})
    response = agent.client.post("/api/v1/waitboxes", headers=agent.auth, json={
        "app_id": agent.app_id, "contact_id": bob, "expires_in": 60})
    assert response.status_code == 422
    assert "contact_id" in response.json["error"]["details"]


def test_non_json_body_is_a_clear_4xx(agent):
    response = agent.client.post("/api/v1/waitboxes", headers={**agent.auth,
                                 "Content-Type": "application/json"}, data=b"{nope")
    assert 400 <= response.status_code < 500
    assert "error" in response.json


def test_claim_ack_and_lease_expiry(agent, clock):
    for i in range(3):
        send(agent, f"m{i}", text=f"question {i}")
    first = agent.client.post("/api/v1/doorkeeper/claims", headers=agent.auth,
                              json={"claimant": "agent-a", "limit": 2, "lease_seconds": 20}).json
    assert [m["message"]["text"] for m in first["messages"]] == ["question 0", "question 1"]
    second = agent.client.post("/api/v1/doorkeeper/claims", headers=agent.auth,
                               json={"claimant": "agent-b", "limit": 10, "lease_seconds": 30}).json
    assert [m["message"]["text"] for m in second["messages"]] == ["question 2"]
    acked = agent.client.post("/api/v1/doorkeeper/acks", headers=agent.auth, json={
        "claim_token": first["claim_token"], "entry_ids": [first["messages"][0]["entry_id"]]}).json
    assert acked == {"acked": [first["messages"][0]["entry_id"]], "rejected": []}
    clock.shift(21)  # the lease on "question 1" runs out unacknowledged
    third = agent.client.post("/api/v1/doorkeeper/claims", headers=agent.auth,
                              json={"claimant": "agent-c", "lease_seconds": 30}).json
    assert [m["message"]["text"] for m in third["messages"]] == ["question 1"]
    late = agent.client.post("/api/v1/doorkeeper/acks", headers=agent.auth, json={
        "claim_token": first["claim_token"], "entry_ids": [first["messages"][1]["entry_id"]]}).json
    assert late["rejected"] == [first["messages"][1]["entry_id"]]


def test_session_phrases_open_a_new_session_and_are_not_queued(agent):
    send(agent, "m1", text="What is my balance?")
    ref = send(agent, "m2", text="  Start Over! ")
    send(agent, "m3", text="hello again")
    assert ref["handler"] == "doorkeeper"
    claimed = agent.client.post("/api/v1/doorkeeper/claims", headers=agent.auth,
                                json={"claimant": "a", "limit": 10}).json["messages"]
    assert [m["message"]["text"] for m in claimed] == ["What is my balance?", "hello again"]
    conversation_id = claimed[0]["conversation_id"]
    conversation = agent.client.get(f"/api/v1/conversations/{conversation_id}",
                                    headers=agent.auth).json
    assert [m["message"]["text"] for m in conversation["messages"]] == [
        "What is my balance?", "  Start Over! ", "hello again"]
    assert [m["status"] for m in conversation["messages"]] == ["claimed", "control", "claimed"]
    first_session, second_session = conversation["sessions"]
    assert first_session["ended_at"] is not None and second_session["ended_at"] is None
    assert claimed[1]["session_id"] == second_session["id"] != claimed[0]["session_id"]


@pytest.mark.parametrize("text", ["new session", "CLEAR SESSION", "reset", "Reset."])
def test_every_session_phrase_counts(agent, text):
    send(agent, "m1", text=text)
    assert agent.client.post("/api/v1/doorkeeper/claims", headers=agent.auth,
                             json={"claimant": "a"}).json["messages"] == []


def test_phrase_inside_a_sentence_is_an_ordinary_message(agent):
    send(agent, "m1", text="please reset my password")
    claimed = agent.client.post("/api/v1/doorkeeper/claims", headers=agent.auth,
                                json={"claimant": "a"}).json["messages"]
    assert len(claimed) == 1


def test_unknown_conversation_is_404(agent):
    response = agent.client.get("/api/v1/conversations/999", headers=agent.auth)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_openapi_document_is_served_and_describes_the_agent_endpoints(agent):
    document = agent.client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    assert {"/api/v1/waitboxes", "/api/v1/doorkeeper/claims", "/api/v1/doorkeeper/acks",
            "/api/v1/conversations/{conversation_id}"} <= set(document["paths"])
    assert "bearerAuth" in document["components"]["securitySchemes"]
