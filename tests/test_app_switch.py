"""Turning an App off and on (``apps.enabled``) and its activity figures, through the service,
the webhook path, ``POST /api/v1/messages``, the management API and the CLI."""
import json

import pytest

from orqo.extensions import db
from orqo.models import MessageRecord
from orqo.services import apps as app_service
from orqo.services.tokens import issue_token
from tests.conftest import TOKEN
from tests.plugins.fake_adapter import delivery


@pytest.fixture
def admin(fake):
    """The fake Harness with an admin token (``.api(method, path, **kw)``)."""
    with fake.app.app_context():
        auth = {"Authorization": f"Bearer {issue_token('ops', ['admin', 'agent'])[1]}"}
    fake.api = lambda method, path, **kw: fake.client.open(  # noqa: E731
        path, method=method, headers=auth, **kw)
    return fake


def send(fake, message_id, sender="ada", headers=None):
    return fake.deliver(fake.app_id, delivery({"sender": sender, "id": message_id}),
                        fake.headers if headers is None else headers)


def messages_of(fake) -> int:
    with fake.app.app_context():
        return db.session.query(MessageRecord).filter_by(app_id=fake.app_id).count()


def test_a_disabled_app_refuses_its_deliveries_and_routes_nothing(admin):
    assert send(admin, "m1").status_code == 200
    routed = messages_of(admin)
    off = admin.api("PATCH", f"/api/v1/apps/{admin.app_id}", json={"enabled": False})
    assert off.status_code == 200 and off.json["enabled"] is False
    refused = send(admin, "m2")
    assert refused.status_code == 403
    error = refused.json["error"]
    assert error["code"] == "app_disabled"
    assert f"orqo apps enable {admin.app_id}" in error["message"]
    # GET handshakes too, and the refusal is not a ledger row nor a message.
    handshake = admin.deliver(admin.app_id, method="GET", query={"challenge": "x"})
    assert handshake.status_code == 403 and handshake.json["error"]["code"] == "app_disabled"
    assert messages_of(admin) == routed
    assert len(admin.ledger(admin.app_id)) == 1
    # Counted where refusals are counted: per App, window and outcome.
    counts = admin.api("GET", f"/api/v1/rejections?app_id={admin.app_id}").json
    counted = [row for row in (counts["items"] if isinstance(counts, dict) else counts)
               if row["outcome"] == "app_disabled"]
    assert sum(row["count"] for row in counted) == 2
    assert counted[0]["last_status"] == 403

    on = admin.api("PATCH", f"/api/v1/apps/{admin.app_id}", json={"enabled": True})
    assert on.json["enabled"] is True
    accepted = send(admin, "m3")  # the same process: the change is seen at once
    assert accepted.status_code == 200
    assert messages_of(admin) == routed + 1


def test_the_switch_raises_the_apps_revision(app, fake):
    from orqo.app_cache import APPS
    from orqo.models import Revision

    def revision():
        with app.app_context():
            return db.session.get(Revision, APPS).value

    before = revision()
    with app.app_context():
        assert app_service.set_app_enabled(fake.app_id, False).enabled is False
    assert revision() > before
    with app.app_context():
        cached = app.extensions["orqo.pipeline"].apps.get(fake.app_id)
    assert cached.enabled is False


def test_no_new_message_is_queued_through_a_disabled_app(admin):
    body = {"app_id": admin.app_id, "contact_id": admin.ada, "text": "hello"}
    queued = admin.api("POST", "/api/v1/messages", json=body)
    assert queued.status_code in (201, 202), queued.json
    admin.api("PATCH", f"/api/v1/apps/{admin.app_id}", json={"enabled": False})
    refused = admin.api("POST", "/api/v1/messages", json=body)
    assert refused.status_code == 409 and refused.json["error"]["code"] == "app_disabled"


@pytest.mark.parametrize("body", [{"enabled": "maybe"}, {"enabled": None}, {"enabled": [1]}])
def test_a_bad_switch_is_a_422(admin, body):
    response = admin.api("PATCH", f"/api/v1/apps/{admin.app_id}", json=body)
    assert response.status_code == 422 and "enabled" in response.json["error"]["details"]


def test_activity_from_recorded_deliveries(admin, clock):
    fresh = admin.api("GET", f"/api/v1/apps/{admin.app_id}").json["activity"]
    assert fresh == {"last_delivery_at": None, "deliveries_24h": 0, "errors_24h": 0,
                     "error_rate_24h": None}
    send(admin, "a1")
    send(admin, "a2")
    send(admin, "a3", headers={"X-Fake-Token": "wrong"})  # sampled into the ledger
    admin.deliver(admin.app_id, b"not json", admin.headers)  # malformed
    ledger = admin.ledger(admin.app_id)
    errors = [d for d in ledger if d["outcome"] not in ("accepted", "challenge")]
    assert len(ledger) == 4 and len(errors) == 2
    shown = admin.api("GET", f"/api/v1/apps/{admin.app_id}").json["activity"]
    assert shown["deliveries_24h"] == 4 and shown["errors_24h"] == 2
    assert shown["error_rate_24h"] == 0.5
    assert shown["last_delivery_at"] == ledger[0]["received_at"]
    listed = {a["id"]: a for a in admin.api("GET", "/api/v1/apps").json}
    assert listed[admin.app_id]["activity"] == shown

    clock.shift(25 * 3600)
    later = admin.api("GET", f"/api/v1/apps/{admin.app_id}").json["activity"]
    assert later == {**shown, "deliveries_24h": 0, "errors_24h": 0, "error_rate_24h": None}


def test_activity_is_one_query_for_any_number_of_apps(app, fake):
    from sqlalchemy import event

    other = fake.add_app("fake", {"token": TOKEN}, name="Other")
    send(fake, "x1")
    statements = []
    with app.app_context():
        engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            activity = app_service.app_activity([fake.app_id, other])
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert len([s for s in statements if "deliveries" in s]) == 1
    assert activity[fake.app_id]["deliveries_24h"] == 1
    assert activity[other]["deliveries_24h"] == 0


def test_cli_disable_enable_and_list(runner, fake):
    def run(*args):
        result = runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.stdout

    assert json.loads(run("apps", "disable", fake.app_id))["enabled"] is False
    assert send(fake, "c1").status_code == 403
    lines = run("apps", "list").splitlines()
    assert lines[0].split()[:3] == ["ID", "ADAPTER", "STATE"]
    assert "disabled" in lines[1].split()
    assert json.loads(run("apps", "enable", fake.app_id))["enabled"] is True
    assert "enabled" in run("apps", "list").splitlines()[1].split()
    assert send(fake, "c2").status_code == 200
    shown = json.loads(run("apps", "show", fake.app_id))
    assert shown["enabled"] is True and shown["activity"]["deliveries_24h"] == 1
    missing = runner.invoke(args=["apps", "disable", "nope"])
    assert missing.exit_code == 1 and "not_found" in missing.stderr
