"""The management API: every resource over REST with an admin token, one error shape."""
import pytest

from orqo.services.tokens import issue_token
from tests.conftest import TOKEN
from tests.plugins.fake_adapter import delivery


@pytest.fixture
def admin(fake):
    with fake.app.app_context():
        fake.auth = {"Authorization": f"Bearer {issue_token('ops', ['admin'])[1]}"}
    fake.api = lambda method, path, **kw: fake.client.open(  # noqa: E731
        path, method=method, headers=fake.auth, **kw)
    return fake


def test_app_crud_and_credentials_never_come_back(admin):
    created = admin.api("POST", "/api/v1/apps", json={
        "name": "Support", "adapter": "fake", "credentials": {"token": "super-secret-value"}})
    assert created.status_code == 201
    app_id = created.json["id"]
    assert created.json["credentials_set"] == ["token"]
    listed = admin.api("GET", "/api/v1/apps")
    assert app_id in [a["id"] for a in listed.json]
    renamed = admin.api("PATCH", f"/api/v1/apps/{app_id}", json={
        "name": "Support EU", "credentials": {"token": "rotated-secret-value"},
        "route_to_doorkeeper": False})
    assert renamed.json["name"] == "Support EU" and renamed.json["route_to_doorkeeper"] is False
    for response in (created, listed, renamed, admin.api("GET", f"/api/v1/apps/{app_id}")):
        assert b"secret-value" not in response.data
    assert admin.deliver(app_id, delivery({"sender": "x", "id": "1"}),
                         {"X-Fake-Token": "rotated-secret-value"}).status_code == 200
    assert admin.api("DELETE", f"/api/v1/apps/{app_id}").status_code == 204
    assert admin.api("GET", f"/api/v1/apps/{app_id}").status_code == 404


def test_a_broken_app_cannot_be_saved(admin):
    missing = admin.api("POST", "/api/v1/apps", json={"name": "X", "adapter": "fake"})
    assert missing.status_code == 422
    assert "token" in missing.json["error"]["details"]["credentials"]
    unknown = admin.api("POST", "/api/v1/apps", json={"name": "X", "adapter": "nope"})
    assert unknown.status_code == 422 and "adapter" in unknown.json["error"]["details"]
    typed = admin.api("POST", "/api/v1/apps", json={"name": 5, "adapter": "fake"})
    assert typed.status_code == 422 and "name" in typed.json["error"]["details"]


def test_contacts_crud(admin):
    created = admin.api("POST", "/api/v1/contacts", json={
        "name": "Grace", "channels": [{"app_id": admin.app_id, "sender_id": "grace"}]})
    assert created.status_code == 201
    contact_id = created.json["id"]
    clash = admin.api("POST", "/api/v1/contacts", json={
        "name": "Eve", "channels": [{"app_id": admin.app_id, "sender_id": "grace"}]})
    assert clash.status_code == 409
    patched = admin.api("PATCH", f"/api/v1/contacts/{contact_id}", json={
        "channels": [{"app_id": admin.app_id, "sender_id": "grace.h"}]})
    assert patched.json["channels"] == [{"app_id": admin.app_id, "sender_id": "grace.h"}]
    page = admin.api("GET", f"/api/v1/contacts?app_id={admin.app_id}&limit=1").json
    assert len(page["items"]) == 1 and page["next_cursor"]
    second = admin.api("GET", f"/api/v1/contacts?limit=1&cursor={page['next_cursor']}").json
    assert second["items"][0]["id"] != page["items"][0]["id"]
    assert admin.api("DELETE", f"/api/v1/contacts/{contact_id}").status_code == 204


def test_workflows_triggers_and_runs(admin):
    workflow = admin.api("POST", "/api/v1/workflows", json={"name": "deploy"}).json
    trigger = admin.api("POST", f"/api/v1/workflows/{workflow['id']}/triggers").json
    assert trigger["url_path"].startswith("/api/v1/hooks/")
    listed = admin.api("GET", f"/api/v1/workflows/{workflow['id']}/triggers").json
    assert "url_path" not in listed[0]
    assert admin.client.post(trigger["url_path"], json={"a": 1}).status_code == 201
    runs = admin.api("GET", f"/api/v1/runs?workflow_id={workflow['id']}").json
    assert [r["input"] for r in runs["items"]] == [{"a": 1}]
    admin.api("PATCH", f"/api/v1/triggers/{trigger['id']}", json={"enabled": False})
    assert admin.client.post(trigger["url_path"], json={}).status_code == 409
    event = admin.api("POST", f"/api/v1/workflows/{workflow['id']}/app-event-triggers", json={
        "app_id": admin.app_id, "filter": {"text_pattern": "^deploy"}})
    assert event.status_code == 201
    # Its run is still queued: deleting needs force (test_cli_listings has the 409 itself).
    assert admin.api("DELETE", f"/api/v1/workflows/{workflow['id']}").status_code == 409
    assert admin.api("DELETE", f"/api/v1/workflows/{workflow['id']}?force=true").status_code == 204


def test_tokens_over_the_api(admin):
    created = admin.api("POST", "/api/v1/tokens", json={"name": "ci", "scopes": ["trigger"]}).json
    assert created["token"].startswith("orqo_")
    assert all("token" not in t for t in admin.api("GET", "/api/v1/tokens").json)
    assert admin.api("DELETE", f"/api/v1/tokens/{created['id']}").json["revoked_at"]
    bad = admin.api("POST", "/api/v1/tokens", json={"name": "x", "scopes": ["root"]})
    assert bad.status_code == 422 and "scopes" in bad.json["error"]["details"]


def test_ledger_filters_and_pagination(admin):
    for i in range(3):
        admin.deliver(admin.app_id, delivery({"sender": "ada", "id": f"m{i}"}), admin.headers)
    admin.deliver(admin.app_id, delivery({"sender": "ada", "id": "x"}), {"X-Fake-Token": "no"})
    rejected = admin.api("GET", "/api/v1/deliveries?outcome=rejected_signature").json["items"]
    assert len(rejected) == 1
    first = admin.api("GET", f"/api/v1/deliveries?app_id={admin.app_id}&limit=2").json
    second = admin.api("GET", f"/api/v1/deliveries?limit=2&cursor={first['next_cursor']}").json
    ids = [d["id"] for d in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 4
    assert second["next_cursor"] is None
    future = admin.api("GET", "/api/v1/deliveries?since=2999-01-01T00:00:00%2B00:00").json
    assert future["items"] == []
    bad = admin.api("GET", "/api/v1/deliveries?cursor=not-a-cursor")
    assert bad.status_code == 422 and "cursor" in bad.json["error"]["details"]
    assert admin.api("GET", "/api/v1/deliveries?outcome=bogus").status_code == 422


def test_replay_of_an_unknown_sender_routes_it_once(admin):
    body = delivery({"sender": "newcomer", "id": "hello-1", "text": "Hi, I'm new"})
    admin.deliver(admin.app_id, body, admin.headers)
    [message] = admin.ledger()[0]["messages"]
    assert message["outcome"] == "unknown_sender"
    premature = admin.api("POST", f"/api/v1/messages/{message['id']}/replay")
    assert premature.json["message"]["outcome"] == "unknown_sender"
    admin.add_contact({admin.app_id: "newcomer"}, name="Newcomer")
    replayed = admin.api("POST", f"/api/v1/messages/{message['id']}/replay")
    assert replayed.status_code == 200
    assert replayed.json["message"]["outcome"] == "routed"
    assert replayed.json["message"]["handler"] == "doorkeeper"
    again = admin.api("POST", f"/api/v1/messages/{message['id']}/replay")
    assert again.status_code == 409
    redelivered = admin.deliver(admin.app_id, body, admin.headers).json["messages"][0]
    assert redelivered["outcome"] == "duplicate"
    replay_entry = admin.ledger()[1]
    assert replay_entry["method"] == "REPLAY" and replay_entry["meta"] == {
        "replay_of": message["id"]}


def test_one_delivery_by_its_id_and_the_old_event_urls_are_gone(admin):
    admin.deliver(admin.app_id, delivery({"sender": "ada", "id": "m1"}), admin.headers)
    [entry] = admin.api("GET", "/api/v1/deliveries?limit=1").json["items"]
    one = admin.api("GET", f"/api/v1/deliveries/{entry['id']}").json
    assert one["id"] == entry["id"] and one["messages"][0]["outcome"] == "routed"
    assert admin.api("GET", "/api/v1/deliveries/99999").status_code == 404
    assert admin.api("GET", "/api/v1/events").status_code == 404
    message_id = one["messages"][0]["id"]
    assert admin.api("POST", f"/api/v1/events/{message_id}/replay").status_code == 404
    with admin.app.app_context():
        agent = {"Authorization": f"Bearer {issue_token('agent', ['agent'])[1]}"}
    refused = admin.client.post(f"/api/v1/messages/{message_id}/replay", headers=agent)
    assert refused.status_code == 403


def test_replay_of_a_routed_message_is_409(admin):
    admin.deliver(admin.app_id, delivery({"sender": "ada", "id": "m1"}), admin.headers)
    message_id = admin.ledger()[0]["messages"][0]["id"]
    assert admin.api("POST", f"/api/v1/messages/{message_id}/replay").status_code == 409
    assert admin.api("POST", "/api/v1/messages/99999/replay").status_code == 404


def test_non_admin_tokens_cannot_manage(admin):
    with admin.app.app_context():
        agent = issue_token("agent", ["agent"])[1]
    response = admin.client.get("/api/v1/apps", headers={"Authorization": f"Bearer {agent}"})
    assert response.status_code == 403
    assert TOKEN not in response.get_data(as_text=True)


def test_every_documented_operation_has_the_error_shape_as_default(admin):
    document = admin.client.get("/api/v1/openapi.json").json
    error = document["components"]["schemas"]["ErrorOut"]
    assert error["properties"]["error"]["$ref"].endswith("ErrorDetail")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method in ("get", "post", "patch", "delete", "put"):
                assert "default" in operation["responses"], (method, path)


def test_numbers_beyond_64_bits_are_4xx_not_5xx(admin):
    huge = 2 ** 70
    assert admin.api("GET", f"/api/v1/workflows/{huge}").status_code == 404
    response = admin.api("POST", "/api/v1/trigger", json={"workflow_id": huge})
    assert response.status_code in (403, 404, 422)
    with admin.app.app_context():
        from orqo.services.tokens import issue_token

        trigger = {"Authorization": f"Bearer {issue_token('t', ['trigger'])[1]}"}
    response = admin.client.post("/api/v1/trigger", headers=trigger, json={"workflow_id": huge})
    assert response.status_code == 422
    assert response.json["error"]["code"] == "validation_error"
    response = admin.api("GET", f"/api/v1/runs?workflow_id={huge}")
    assert response.status_code == 422


@pytest.mark.parametrize("body, reason", [
    (b'{"name": ', "Expecting value"),
    (b"\xff{}", "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"name": ' + b"9" * 5000 + b"}", "4300"),
    (b'{"name": "\\udc00"}', "lone surrogate"),
])
def test_a_body_that_is_not_valid_json_is_422_invalid_json_everywhere(admin, body, reason):
    """Schema-validated endpoints and the trigger endpoints read JSON the same way."""
    with admin.app.app_context():
        trigger = {"Authorization": f"Bearer {issue_token('t', ['trigger'])[1]}"}
    for path, headers in (("/api/v1/workflows", admin.auth), ("/api/v1/trigger", trigger)):
        response = admin.client.post(path, data=body, headers=headers,
                                     content_type="application/json")
        assert response.status_code == 422, (path, response.json)
        error = response.json["error"]
        assert error["code"] == "invalid_json" and reason in error["message"], (path, error)
    assert admin.api("GET", "/api/v1/workflows").json == []


def test_a_valid_surrogate_pair_is_a_character_not_an_error(admin):
    response = admin.api("POST", "/api/v1/workflows", data=b'{"name": "ok \\ud83d\\ude00"}',
                         content_type="application/json")
    assert response.status_code == 201, response.json
    assert response.json["name"] == "ok \U0001F600"


def test_values_no_database_stores_are_refused_alike_on_every_database(admin, database_url):
    """U+0000 in a string and NaN or Infinity as a number: PostgreSQL cannot store them and
    SQLite could, so the API refuses them on both, before the database sees them."""
    with admin.app.app_context():
        trigger = {"Authorization": f"Bearer {issue_token('t', ['trigger'])[1]}"}
    workflow = admin.api("POST", "/api/v1/workflows", json={"name": "w"}).json["id"]
    for path, headers, body, reason in [
        ("/api/v1/workflows", admin.auth, b'{"name": "a\\u0000b"}', "U+0000"),
        ("/api/v1/trigger", trigger, b'{"workflow_id": %d, "input": {"\\u0000": 1}}' % workflow,
         "U+0000"),
        ("/api/v1/trigger", trigger, b'{"workflow_id": %d, "input": NaN}' % workflow,
         "NaN is not a JSON number"),
        ("/api/v1/trigger", trigger, b'{"workflow_id": %d, "input": [1e999]}' % workflow,
         "too large"),
    ]:
        response = admin.client.post(path, data=body, headers=headers,
                                     content_type="application/json")
        assert response.status_code == 422, (body, response.json)
        error = response.json["error"]
        assert error["code"] == "invalid_json" and reason in error["message"], (body, error)
    names = [w["name"] for w in admin.api("GET", "/api/v1/workflows").json]
    assert names == ["w"]


def test_a_value_the_database_refuses_is_422_saying_what_kind(admin, database_url):
    """A value from a query string reaches the database as it is: PostgreSQL refuses U+0000,
    and the answer says which kind of value it was, not the value (SQLite finds nothing)."""
    response = admin.api("GET", "/api/v1/contacts?app_id=%00")
    if not database_url.startswith("postgresql"):
        assert response.status_code == 200
        return
    assert response.status_code == 422, response.json
    assert response.json["error"]["details"] == {"value": [
        "A string holds a character the database cannot store (U+0000)."]}
