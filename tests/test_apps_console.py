"""The console's App pages through Flask's test client: the list's state and activity, one
App's page, rotating credentials with a grace period, turning an App off and on."""
import re

import pytest

from tests.conftest import TOKEN
from tests.plugins.fake_adapter import delivery
from tests.test_console import csrf_of
from tests.test_console import issue
from tests.test_console import sign_in


@pytest.fixture
def signed_in(app):
    client = app.test_client()
    assert sign_in(client, issue(app)[1]).status_code == 302
    return client


def send(fake, message_id, token=TOKEN):
    return fake.deliver(fake.app_id, delivery({"sender": "ada", "id": message_id}),
                        {"X-Fake-Token": token})


def page_of(client, fake):
    response = client.get(f"/console/apps/{fake.app_id}")
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("path", ["/console/apps/x", "/console/apps/x/rotate",
                                  "/console/apps/x/enabled"])
def test_no_app_page_without_a_session(client, path):
    assert client.get(path).status_code in (302, 405)
    if path == "/console/apps/x":
        assert client.get(path).headers["Location"].startswith("/console/sign-in")


def test_list_shows_state_last_delivery_and_error_rate(signed_in, fake):
    send(fake, "l1")
    send(fake, "l2", token="wrong")  # a sampled refusal: an error in the ledger
    page = signed_in.get("/console/apps").get_data(as_text=True)
    assert "enabled" in page and "50.0% errors" in page
    assert re.search(r"2 deliveries,\s+1 error\b", page)
    assert f'href="/console/apps/{fake.app_id}"' in page


def test_app_page_shows_settings_but_never_secrets(signed_in, fake):
    page = page_of(signed_in, fake).get_data(as_text=True)
    assert f'value="http://127.0.0.1:8000/api/v1/webhooks/{fake.app_id}"' in page
    assert 'readonly' in page and 'class="copy"' in page and "console.js" in page
    assert '"api_base_url": "http://127.0.0.1:9"' in page  # the config, in full
    assert "token" in page and TOKEN not in page
    assert "Last delivery" in page and "0 deliveries" in page
    assert 'name="credentials.token"' in page and 'name="keep_for"' in page
    assert signed_in.get("/console/apps/no-such-app").status_code == 404


def test_rotation_keeps_the_old_secret_valid_during_the_grace_period(signed_in, fake, clock):
    page = page_of(signed_in, fake)
    response = signed_in.post(f"/console/apps/{fake.app_id}/rotate", data={
        "csrf_token": csrf_of(page), "credentials.token": "new-token-456",
        "keep_for": "30", "keep_unit": "minutes"})
    assert response.status_code == 302
    shown = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "the old ones are accepted until" in shown and 'id="grace-period"' in shown
    assert "new-token-456" not in shown
    assert send(fake, "r1", token=TOKEN).status_code == 200
    assert send(fake, "r2", token="new-token-456").status_code == 200
    clock.shift(31 * 60)
    assert send(fake, "r3", token=TOKEN).status_code == 401
    assert send(fake, "r4", token="new-token-456").status_code == 200
    assert 'id="grace-period"' not in page_of(signed_in, fake).get_data(as_text=True)


@pytest.mark.parametrize("form, field", [
    ({"credentials.token": "x", "keep_for": "soon", "keep_unit": "hours"}, "keep_previous_for"),
    ({"credentials.token": "x", "keep_for": "1", "keep_unit": "years"}, "keep_previous_for"),
    ({"credentials.token": "x", "keep_for": "-5", "keep_unit": "minutes"}, "keep_previous_for"),
    ({"credentials.token": "x", "keep_for": "1000", "keep_unit": "hours"}, "keep_previous_for"),
    ({"keep_for": "1", "keep_unit": "hours"}, "credentials"),
])
def test_bad_rotations_are_422_on_the_form(signed_in, fake, form, field):
    page = page_of(signed_in, fake)
    response = signed_in.post(f"/console/apps/{fake.app_id}/rotate",
                              data={"csrf_token": csrf_of(page), **form})
    text = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="rotate-credentials"' in text  # the form again, with its problem
    assert "error" in text and ("minutes or hours" in text or "0 and 2592000" in text
                                or "at least one new credential" in text)
    assert send(fake, "still-old").status_code == 200  # nothing changed


def test_disable_then_enable_from_the_app_page(signed_in, fake):
    page = page_of(signed_in, fake)
    assert 'id="disable-app"' in page.get_data(as_text=True)
    off = signed_in.post(f"/console/apps/{fake.app_id}/enabled",
                         data={"csrf_token": csrf_of(page), "enabled": "false"})
    assert off.status_code == 302
    shown = signed_in.get(off.headers["Location"]).get_data(as_text=True)
    assert "403 app_disabled" in shown and 'id="enable-app"' in shown
    assert re.search(r'class="state off"[^>]*>disabled', shown)
    assert send(fake, "d1").json["error"]["code"] == "app_disabled"
    assert "disabled" in signed_in.get("/console/apps").get_data(as_text=True)
    on = signed_in.post(f"/console/apps/{fake.app_id}/enabled",
                        data={"csrf_token": csrf_of(page), "enabled": "true"})
    assert on.status_code == 302
    assert send(fake, "d2").status_code == 200


@pytest.mark.parametrize("value", ["", "yes", "0"])
def test_a_bad_switch_value_is_a_422(signed_in, fake, value):
    page = page_of(signed_in, fake)
    response = signed_in.post(f"/console/apps/{fake.app_id}/enabled",
                              data={"csrf_token": csrf_of(page), "enabled": value})
    assert response.status_code == 422 and "true or false" in response.get_data(as_text=True)


@pytest.mark.parametrize("path, data", [("rotate", {"credentials.token": "x", "keep_for": "1",
                                                    "keep_unit": "hours"}),
                                        ("enabled", {"enabled": "false"})])
def test_new_forms_need_the_csrf_token(signed_in, fake, path, data):
    for token in ({}, {"csrf_token": "wrong"}):
        response = signed_in.post(f"/console/apps/{fake.app_id}/{path}", data={**data, **token})
        assert response.status_code == 400
    assert send(fake, "csrf").status_code == 200  # neither disabled nor rotated


def test_unknown_app_forms_are_404(signed_in, fake):
    page = page_of(signed_in, fake)
    for path in ("rotate", "enabled"):
        response = signed_in.post(f"/console/apps/nope/{path}", data={
            "csrf_token": csrf_of(page), "enabled": "false", "keep_for": "1",
            "keep_unit": "hours", "credentials.token": "x"})
        assert response.status_code == 404
