"""The console through Flask's test client: sessions, CSRF, and each page's behaviour.

The same flows run in a real browser against gunicorn in tests/test_console_browser.py.
"""
import json
import re

import pytest

from orqo.services import tokens
from tests.plugins import fake_adapter

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(response) -> str:
    """The CSRF token of a page's forms."""
    return CSRF.search(response.get_data(as_text=True)).group(1)


def issue(app, scopes=("admin",)) -> tuple[int, str]:
    with app.app_context():
        token, secret = tokens.issue_token("console", list(scopes))
        return token.id, secret


def sign_in(client, secret, next_path=None):
    form = client.get("/console/sign-in")
    url = "/console/sign-in" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data={"token": secret, "csrf_token": csrf_of(form)})


@pytest.fixture
def signed_in(app):
    """A test client signed in with a fresh admin token (``.token_id``)."""
    client = app.test_client()
    client.token_id, secret = issue(app)
    assert sign_in(client, secret).status_code == 302
    return client


def deliver(fake, sender, message_id):
    body = json.dumps({"messages": [{"sender": sender, "id": message_id, "text": "hi"}]})
    return fake.deliver(fake.app_id, body.encode(), fake.headers)


@pytest.mark.parametrize("path", ["/console", "/console/deliveries", "/console/deliveries/1",
                                  "/console/deliveries/rows", "/console/apps",
                                  "/console/apps/new", "/console/apps/x/delete",
                                  "/console/contacts", "/console/contacts/1/delete",
                                  "/console/rejections", "/console/messages",
                                  "/console/messages/1", "/console/pushes"])
def test_no_page_without_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in")


def test_sign_in_sets_a_protected_cookie_and_returns_to_the_page_asked_for(app, client):
    _id, secret = issue(app)
    response = sign_in(client, secret, next_path="/console/apps")
    assert response.status_code == 302 and response.headers["Location"] == "/console/apps"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here
    assert secret not in cookie  # the token's id and hash, never its secret
    assert client.get("/console/apps").status_code == 200


def test_sign_in_never_redirects_off_the_console(app, client):
    _id, secret = issue(app)
    assert sign_in(client, secret, "//evil.example/x").headers["Location"] == \
        "/console/deliveries"


@pytest.mark.parametrize("scopes", [None, ("agent",)])
def test_sign_in_refuses_a_wrong_or_non_admin_token(app, client, scopes):
    secret = issue(app, scopes)[1] if scopes else "orqo_not-a-token"
    response = sign_in(client, secret)
    assert response.status_code == 401
    assert "not a live admin token" in response.get_data(as_text=True)
    assert client.get("/console/deliveries").status_code == 302


def test_cookie_is_secure_behind_tls(make_app):
    app = make_app(PROXY_COUNT=1)
    _id, secret = issue(app)
    client = app.test_client()
    https = {"X-Forwarded-Proto": "https"}
    page = client.get("/console/sign-in", headers=https)
    response = client.post("/console/sign-in", headers=https,
                           data={"token": secret, "csrf_token": csrf_of(page)})
    assert "; Secure" in response.headers["Set-Cookie"]


def test_revoking_the_token_ends_the_session(app, signed_in):
    assert signed_in.get("/console/deliveries").status_code == 200
    with app.app_context():
        tokens.revoke_token(signed_in.token_id)
    assert signed_in.get("/console/deliveries").status_code == 302


def test_a_post_without_the_csrf_token_is_refused(signed_in, fake):
    page = signed_in.get("/console/deliveries")
    assert signed_in.post("/console/sign-out").status_code == 400
    assert signed_in.post("/console/sign-out", data={"csrf_token": "wrong"}).status_code == 400
    assert signed_in.get("/console/deliveries").status_code == 200  # still signed in
    response = signed_in.post("/console/sign-out", data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302
    assert signed_in.get("/console/deliveries").status_code == 302


def test_deliveries_newest_first_and_filtered(signed_in, fake):
    deliver(fake, "ada", "m1")
    deliver(fake, "stranger", "m2")
    fake.deliver(fake.app_id, b"{}", {"X-Fake-Token": "wrong"})
    page = signed_in.get("/console/deliveries").get_data(as_text=True)
    ids = [int(i) for i in re.findall(r'class="delivery" data-id="(\d+)"', page)]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3
    accepted = signed_in.get("/console/deliveries?outcome=accepted&app_id=" + fake.app_id)
    assert len(re.findall(r'class="delivery"', accepted.get_data(as_text=True))) == 2
    rows = signed_in.get("/console/deliveries/rows?outcome=rejected_signature")
    assert rows.headers["X-Orqo-Fragment"] == "deliveries"
    assert len(re.findall(r'class="delivery"', rows.get_data(as_text=True))) == 1
    future = signed_in.get("/console/deliveries?since=2999-01-01T00:00")
    assert "No deliveries yet." in future.get_data(as_text=True)


@pytest.mark.parametrize("query", ["since=yesterday", "outcome=bogus", "cursor=zzz",
                                   "app_id=" + "x" * 500])
def test_bad_filters_are_never_a_server_error(signed_in, query):
    assert signed_in.get("/console/deliveries?" + query).status_code in (200, 422)


def test_replay_after_registering_the_contact(app, signed_in, fake):
    deliver(fake, "grace", "m1")
    [delivery] = fake.ledger()
    page = signed_in.get(f"/console/deliveries/{delivery['id']}")
    text = page.get_data(as_text=True)
    assert "unknown_sender" in text and "Replay" in text
    fake.add_contact({fake.app_id: "grace"}, name="Grace")
    message_id = delivery["messages"][0]["id"]
    response = signed_in.post(f"/console/messages/{message_id}/replay",
                              data={"csrf_token": csrf_of(page)})
    assert response.status_code == 302
    replayed = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "replayed: routed" in replayed and "replay_of" in replayed
    again = signed_in.post(f"/console/messages/{message_id}/replay",
                           data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409 and "routed already" in again.get_data(as_text=True)


def test_unknown_delivery_is_a_404_page(signed_in):
    response = signed_in.get("/console/deliveries/999999")
    assert response.status_code == 404 and "No delivery" in response.get_data(as_text=True)


def test_create_an_app_from_its_adapters_fields_and_see_its_url(signed_in):
    choose = signed_in.get("/console/apps/new").get_data(as_text=True)
    assert 'value="fake"' in choose
    form = signed_in.get("/console/apps/new?adapter=fake")
    assert 'name="credentials.token"' in form.get_data(as_text=True)
    assert 'name="config.api_base_url"' in form.get_data(as_text=True)
    refused = signed_in.post("/console/apps/new", data={
        "csrf_token": csrf_of(form), "adapter": "fake", "name": "ops"})
    assert refused.status_code == 422
    assert "Missing data for required field" in refused.get_data(as_text=True)
    created = signed_in.post("/console/apps/new", data={
        "csrf_token": csrf_of(form), "adapter": "fake", "name": "ops",
        "credentials.token": "s3cret-token"})
    assert created.status_code == 302
    page = signed_in.get("/console/apps").get_data(as_text=True)
    assert re.search(r'value="http://127.0.0.1:8000/api/v1/webhooks/[\w-]+"', page)
    assert "s3cret-token" not in page


def test_webhook_url_uses_the_public_base_url(make_app):
    app = make_app(plugins=[fake_adapter], PUBLIC_BASE_URL="https://hooks.example.org/")
    client = app.test_client()
    sign_in(client, issue(app)[1])
    with app.app_context():
        from orqo.services.apps import create_app_record
        app_id = create_app_record("demo", "fake", {"token": "t"}, {}).id
    page = client.get("/console/apps").get_data(as_text=True)
    assert f'value="https://hooks.example.org/api/v1/webhooks/{app_id}"' in page


def test_unknown_adapter_is_refused_clearly(signed_in):
    response = signed_in.get("/console/apps/new?adapter=nope")
    assert response.status_code == 422 and "No installed adapter" in response.get_data(
        as_text=True)


def test_delete_asks_first(signed_in, fake):
    confirm = signed_in.get(f"/console/apps/{fake.app_id}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.get_data(as_text=True)
    assert fake.app_id in signed_in.get("/console/apps").get_data(as_text=True)
    response = signed_in.post(f"/console/apps/{fake.app_id}/delete",
                              data={"csrf_token": csrf_of(confirm)})
    assert response.status_code == 302
    assert fake.app_id not in signed_in.get("/console/apps").get_data(as_text=True)
    assert signed_in.get(f"/console/apps/{fake.app_id}/delete").status_code == 404


def test_pages_forbid_framing_and_inline_script(signed_in):
    response = signed_in.get("/console/deliveries")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "<script>" not in response.get_data(as_text=True)


def test_static_assets_ship_with_the_package(client):
    assert client.get("/console/static/console.css").status_code == 200
    assert client.get("/console/static/console.js").status_code == 200


def test_secret_key_is_kept_in_the_instance_folder(make_app, tmp_path):
    first, second = make_app(), make_app()
    assert first.config["SECRET_KEY"] and first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert (tmp_path / "instance" / "secret_key").stat().st_mode & 0o077 == 0
    assert make_app(SECRET_KEY="set-by-operator").config["SECRET_KEY"] == "set-by-operator"


def test_rejections_are_counted_per_app_and_reason(signed_in, fake):
    for _ in range(3):
        fake.deliver(fake.app_id, b"{}", {"X-Fake-Token": "wrong"})
    page = signed_in.get("/console/rejections?app_id=" + fake.app_id).get_data(as_text=True)
    [row] = re.findall(r'<tr class="rejection">(.*?)</tr>', page, re.S)
    assert "rejected_signature" in row and "<td>3</td>" in row
    other = signed_in.get("/console/rejections?app_id=nope").get_data(as_text=True)
    assert "No rejections." in other


def test_contacts_list_create_and_delete(signed_in, fake):
    page = signed_in.get("/console/contacts")
    assert "Ada Lovelace" in page.get_data(as_text=True)
    created = signed_in.post("/console/contacts", data={
        "csrf_token": csrf_of(page), "name": "Grace", "app_id": fake.app_id,
        "sender_id": "grace"})
    assert created.status_code == 302
    listed = signed_in.get(f"/console/contacts?app_id={fake.app_id}").get_data(as_text=True)
    assert "Grace" in listed and "<code>grace</code>" in listed
    taken = signed_in.post("/console/contacts", data={
        "csrf_token": csrf_of(page), "name": "Imposter", "app_id": fake.app_id,
        "sender_id": "grace"})
    assert taken.status_code == 409 and "already belongs" in taken.get_data(as_text=True)
    nameless = signed_in.post("/console/contacts", data={"csrf_token": csrf_of(page)})
    assert nameless.status_code == 422
    grace = int(re.search(r'data-id="(\d+)">\s*<td>\d+</td>\s*<td>Grace', listed).group(1))
    confirm = signed_in.get(f"/console/contacts/{grace}/delete")
    assert "Delete Contact Grace?" in confirm.get_data(as_text=True)
    deleted = signed_in.post(f"/console/contacts/{grace}/delete",
                             data={"csrf_token": csrf_of(confirm)})
    assert deleted.status_code == 302
    assert "<td>Grace</td>" not in signed_in.get("/console/contacts").get_data(as_text=True)


def test_message_pages_inbound_and_outbound_with_attempts(app, signed_in, fake):
    from orqo.extensions import db
    from orqo.services.outbound import queue_message

    deliver(fake, "ada", "m1")
    inbound = fake.ledger()[0]["messages"][0]["id"]
    found = signed_in.get(f"/console/messages?id={inbound}")
    assert found.headers["Location"] == f"/console/messages/{inbound}"
    page = signed_in.get(found.headers["Location"]).get_data(as_text=True)
    assert "inbound" in page and "routed" in page and "hi" in page
    with app.app_context():
        outbound = queue_message(fake.app_id, fake.ada, "on my way", in_reply_to=inbound).id
        db.session.commit()
    page = signed_in.get(f"/console/messages/{outbound}").get_data(as_text=True)
    assert "outbound" in page and "queued" in page and '<dd id="attempts">0</dd>' in page
    assert "on my way" in page
    assert signed_in.get("/console/messages?id=abc").status_code == 422
    assert signed_in.get("/console/messages?id=99999999").status_code == 302
    assert signed_in.get("/console/messages/99999999").status_code == 404


def test_pushes_with_attempts_and_retry(make_app):
    from sqlalchemy import update

    from orqo.extensions import db
    from orqo.models import PushDelivery
    from orqo.testing import Harness

    app = make_app(plugins=[fake_adapter], AGENT_PUSH_URL="https://agents.example.test/orqo",
                   AGENT_PUSH_SECRET="whsec_" + "QUJD" * 11)
    harness = Harness(app)
    harness.app_id = harness.add_app("fake", {"token": "t"})
    harness.headers = {"X-Fake-Token": "t"}
    harness.add_contact({harness.app_id: "ada"})
    deliver(harness, "ada", "m1")
    client = app.test_client()
    sign_in(client, issue(app)[1])
    page = client.get("/console/pushes")
    [row] = re.findall(r'<tr class="push" data-id="(\d+)">(.*?)</tr>', page.get_data(as_text=True),
                       re.S)
    assert "pending" in row[1] and "Retry" in row[1]
    with app.app_context():
        db.session.execute(update(PushDelivery).values(status="dead", attempts=10,
                                                       last_error="HTTP 500"))
        db.session.commit()
    dead = client.get("/console/pushes?status=dead")
    assert "HTTP 500" in dead.get_data(as_text=True)
    retried = client.post(f"/console/pushes/{row[0]}/retry", data={"csrf_token": csrf_of(dead)})
    assert retried.status_code == 302
    after = client.get("/console/pushes?status=pending").get_data(as_text=True)
    assert f'data-id="{row[0]}"' in after and "will be sent again" in after
    assert "No pushes." in client.get("/console/pushes?status=delivered").get_data(as_text=True)
