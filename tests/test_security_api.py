"""The management API's part of the security audit (issue 15): each test names its finding and
fails on the code before the fix. Through the test client, except the races, which run in
threads against a real gunicorn (several workers) as only a real server shows them."""
import threading
from urllib.parse import urlsplit

import orqo_custom
import orqo_slack
import orqo_telegram
import orqo_whatsapp
import pytest
from marshmallow import Schema
from marshmallow import fields

from orqo import hookimpl
from orqo.adapters import Adapter
from orqo.services.tokens import issue_token
from orqo.stages import ParseResult
from orqo.stages import Verdict
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery

# Long enough for every HMAC adapter (16 bytes at least, finding 13).
GOOD_SECRET = "0123456789abcdef0123456789abcdef"


def bearer(app, *scopes):
    """Headers carrying a new token with ``scopes``."""
    with app.app_context():
        return {"Authorization": f"Bearer {issue_token('-'.join(scopes), list(scopes))[1]}"}


class Api:
    """The test client with an admin token, and JSON in and out."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.headers = bearer(app, "admin")

    def __call__(self, method, path, headers=None, **kwargs):
        return self.client.open(path, method=method, headers={**self.headers, **(headers or {})},
                                **kwargs)


class RelayCredentials(Schema):
    api_key = fields.String(required=True)
    region_key = fields.String(required=True)


class RelayConfig(Schema):
    url = fields.Url(required=True, require_tld=False)


class RelayAdapter(Adapter):
    """An adapter that sends its credentials to the URL of its config, as orqo-remote does
    (this test's stand-in: it never connects anywhere)."""

    platform = "relay"
    credentials_schema = RelayCredentials
    config_schema = RelayConfig

    @classmethod
    def credentials_destination(cls, config):
        url = urlsplit(config["url"])
        return f"{url.scheme}://{url.hostname}:{url.port or 80}"

    def verify(self, request):
        return Verdict.accept()

    def parse(self, request):
        return ParseResult()


class RelayPlugin:
    @hookimpl
    def register_adapters(self, register):
        register(RelayAdapter)


@pytest.fixture
def api(make_app):
    return Api(make_app(plugins=[fake_adapter, orqo_custom, orqo_slack, orqo_whatsapp,
                                 orqo_telegram, RelayPlugin()]))


# --- finding 13: HMAC signing secrets of at least 16 bytes ---------------------------------

HMAC_APPS = {
    "custom": ("signing_secret", {}),
    "slack": ("SLACK_SIGNING_SECRET", {}),
    "whatsapp": ("WHATSAPP_APP_SECRET", {"WHATSAPP_VERIFY_TOKEN": "verify-me"}),
}


@pytest.mark.parametrize("adapter", sorted(HMAC_APPS))
@pytest.mark.parametrize("secret", ["a", "x" * 15, "äöüäöüä"], ids=["1-char", "15-bytes",
                                                                   "14-bytes-of-7-chars"])
def test_a_short_hmac_secret_is_refused_with_a_clear_422(api, adapter, secret):
    key, others = HMAC_APPS[adapter]
    response = api("POST", "/api/v1/apps", json={
        "name": "short", "adapter": adapter, "credentials": {key: secret, **others}})
    assert response.status_code == 422, response.json
    error = response.json["error"]
    assert error["code"] == "validation_error"
    assert "at least 16 bytes" in error["details"]["credentials"][key][0]
    if len(secret) > 1:  # never echoed (a single "a" is in any text)
        assert secret not in response.get_data(as_text=True)
    assert api("GET", "/api/v1/apps").json == []


@pytest.mark.parametrize("adapter", sorted(HMAC_APPS))
def test_a_16_byte_hmac_secret_is_taken_and_a_short_one_cannot_be_patched_in(api, adapter):
    key, others = HMAC_APPS[adapter]
    created = api("POST", "/api/v1/apps", json={
        "name": "ok", "adapter": adapter, "credentials": {key: "ääääääää", **others}})
    assert created.status_code == 201, created.json  # 8 characters, 16 bytes of UTF-8
    patched = api("PATCH", f"/api/v1/apps/{created.json['id']}",
                  json={"credentials": {key: "b"}})
    assert patched.status_code == 422
    assert "at least 16 bytes" in patched.json["error"]["details"]["credentials"][key][0]


def test_telegram_keeps_telegrams_own_rule_for_its_secret_token(api):
    one_character = api("POST", "/api/v1/apps", json={
        "name": "tg", "adapter": "telegram", "credentials": {"TELEGRAM_WEBHOOK_SECRET": "a"}})
    assert one_character.status_code == 201  # Telegram takes 1 to 256 of A-Z a-z 0-9 _ -
    spaced = api("POST", "/api/v1/apps", json={
        "name": "tg", "adapter": "telegram", "credentials": {"TELEGRAM_WEBHOOK_SECRET": "a b"}})
    assert spaced.status_code == 422
    assert "TELEGRAM_WEBHOOK_SECRET" in spaced.json["error"]["details"]["credentials"]


# --- finding 3: a trigger token reads only the runs it started -------------------------------

def test_a_trigger_token_reads_only_the_runs_it_started(api):
    app = api("POST", "/api/v1/apps", json={"name": "ops", "adapter": "fake",
                                            "credentials": {"token": "t"},
                                            "route_to_doorkeeper": False}).json
    api("POST", "/api/v1/contacts", json={"name": "Ada", "channels": [
        {"app_id": app["id"], "sender_id": "ada"}]})
    workflow = api("POST", "/api/v1/workflows", json={"name": "incident"}).json
    api("POST", f"/api/v1/workflows/{workflow['id']}/app-event-triggers",
        json={"app_id": app["id"]})
    body = delivery({"sender": "ada", "id": "m1", "text": "my card number is 4111…"})
    assert api.client.post(f"/api/v1/webhooks/{app['id']}", data=body,
                           headers={"X-Fake-Token": "t"}).status_code == 200
    url_path = api("POST", f"/api/v1/workflows/{workflow['id']}/triggers").json["url_path"]
    assert api.client.post(url_path, json={"from": "token url"}).status_code == 201
    crm, other_crm = bearer(api.app, "trigger"), bearer(api.app, "trigger")

    def start(headers):
        return api.client.post("/api/v1/trigger", headers=headers, json={
            "workflow_id": workflow["id"], "input": {"ticket": 1}}).json["workflow_run_id"]

    own, others = start(crm), start(other_crm)
    every_run = [run["id"] for run in api("GET", "/api/v1/runs").json["items"]]
    assert len(every_run) == 4  # the Contact's, the token URL's, and one per CRM token

    def readable(headers):
        answers = {run_id: api.client.get(f"/api/v1/runs/{run_id}", headers=headers)
                   for run_id in [*every_run, 999999]}
        for run_id, answer in answers.items():
            if answer.status_code == 404:  # the same answer as for an id that does not exist
                assert answer.json["error"] == {
                    "code": "not_found", "message": f"No workflow run has the id {run_id}.",
                    "details": {}}
        return sorted(run_id for run_id, answer in answers.items() if answer.status_code == 200)

    assert readable(crm) == [own]
    assert readable(other_crm) == [others]
    assert readable(bearer(api.app, "agent")) == sorted(every_run)
    assert readable(bearer(api.app, "trigger", "agent")) == sorted(every_run)
    assert readable(api.headers) == sorted(every_run)


# --- finding 11: creates racing for one sender id are 201 or 409, never a 5xx ---------------

def race(calls):
    """Run ``calls`` (functions) at once, released together by a barrier; their results."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index):
        barrier.wait(timeout=30)
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("rounds", [12])
def test_parallel_contact_creates_for_one_sender_are_201_or_409(api, rounds, caplog):
    app_id = api("POST", "/api/v1/apps", json={"name": "race", "adapter": "fake",
                                               "credentials": {"token": "t"}}).json["id"]
    statuses = []
    for round_number in range(rounds):
        body = {"name": f"Ada {round_number}",
                "channels": [{"app_id": app_id, "sender_id": f"ada-{round_number}"}]}
        answers = race([lambda: api("POST", "/api/v1/contacts", json=body)] * 4)
        codes = sorted(answer.status_code for answer in answers)
        statuses += codes
        assert codes == [201, 409, 409, 409], [a.get_data(as_text=True) for a in answers]
        for answer in answers:
            if answer.status_code == 409:
                assert answer.json["error"]["code"] == "conflict"
                assert f"'ada-{round_number}' on App" in answer.json["error"]["details"][
                    "channels"][0]
    contacts = api("GET", "/api/v1/contacts?limit=200").json["items"]
    assert len(contacts) == rounds
    assert "IntegrityError" not in caplog.text and "INSERT" not in caplog.text


def test_parallel_channel_updates_to_one_sender_are_200_or_409(api):
    app_id = api("POST", "/api/v1/apps", json={"name": "race", "adapter": "fake",
                                               "credentials": {"token": "t"}}).json["id"]
    for round_number in range(6):
        ids = [api("POST", "/api/v1/contacts", json={"name": f"C{round_number}.{i}"}).json["id"]
               for i in range(4)]
        channels = {"channels": [{"app_id": app_id, "sender_id": f"zed-{round_number}"}]}
        answers = race([lambda contact_id=contact_id: api(
            "PATCH", f"/api/v1/contacts/{contact_id}", json=channels) for contact_id in ids])
        assert sorted(a.status_code for a in answers) == [200, 409, 409, 409], [
            a.get_data(as_text=True) for a in answers]


# --- hardening: nosniff on every API answer, no-store on answers that show a secret once ------

def test_every_api_answer_says_nosniff(api):
    answers = [api("GET", "/api/v1/apps"), api("GET", "/api/v1/nothing-here"),
               api.client.get("/api/v1/apps"), api("POST", "/api/v1/apps", json={}),
               api("DELETE", "/api/v1/tokens"), api.client.get("/api/v1/openapi.json")]
    assert [a.status_code for a in answers] == [200, 404, 401, 422, 405, 200]
    assert {a.headers.get("X-Content-Type-Options") for a in answers} == {"nosniff"}


def test_answers_that_show_a_secret_once_are_not_stored(api):
    token = api("POST", "/api/v1/tokens", json={"name": "crm", "scopes": ["trigger"]})
    workflow = api("POST", "/api/v1/workflows", json={"name": "wf"}).json
    trigger = api("POST", f"/api/v1/workflows/{workflow['id']}/triggers")
    rotated = api("POST", f"/api/v1/triggers/{trigger.json['id']}/rotate", json={})
    for answer in (token, trigger, rotated):
        assert answer.status_code in (200, 201)
        assert answer.headers["Cache-Control"] == "no-store"
    assert token.json["token"].startswith("orqo_") and rotated.json["url_path"]
    assert "no-store" not in api("GET", "/api/v1/tokens").headers.get("Cache-Control", "")


# --- finding 4: a config that sends the credentials elsewhere needs them entered again -------

RELAY_KEYS = {"api_key": "key-for-the-first-host", "region_key": "region-for-the-first-host"}


def test_changing_where_credentials_go_requires_every_credential_again(api):
    app = api("POST", "/api/v1/apps", json={"name": "relay", "adapter": "relay",
                                            "credentials": RELAY_KEYS,
                                            "config": {"url": "http://127.0.0.1:9001/hook"}})
    assert app.status_code == 201, app.json
    path = f"/api/v1/apps/{app.json['id']}"
    for credentials in ({}, {"api_key": "new-key"}):
        moved = api("PATCH", path, json={"config": {"url": "http://127.0.0.1:9002/hook"},
                                         "credentials": credentials})
        assert moved.status_code == 422, moved.json
        assert moved.json["error"]["code"] == "validation_error"
        [reason] = moved.json["error"]["details"]["credentials"]
        assert "changes where the App's credentials are sent" in reason
        assert "region_key" in reason and ("api_key" in reason) == (not credentials)
        assert "first-host" not in moved.get_data(as_text=True)
    assert api("GET", path).json["config"] == {"url": "http://127.0.0.1:9001/hook"}

    same_host = api("PATCH", path, json={"config": {"url": "http://127.0.0.1:9001/other"}})
    assert same_host.status_code == 200  # same destination: the stored credentials may stay
    moved = api("PATCH", path, json={"config": {"url": "http://[::1]:9001/hook"}, "credentials": {
        "api_key": "key-for-the-second-host", "region_key": "region-for-the-second-host"}})
    assert moved.status_code == 200, moved.json
    assert moved.json["config"] == {"url": "http://[::1]:9001/hook"}


def test_moving_the_credentials_ends_a_grace_period(api):
    app_id = api("POST", "/api/v1/apps", json={
        "name": "relay", "adapter": "relay", "credentials": RELAY_KEYS,
        "config": {"url": "http://127.0.0.1:9001/hook"}}).json["id"]
    rotated = api.app.test_cli_runner().invoke(args=[
        "apps", "rotate-credentials", app_id, "--credential", "api_key=second-key",
        "--keep-previous-for", "3600"])
    assert rotated.exit_code == 0, rotated.output
    assert api("GET", f"/api/v1/apps/{app_id}").json["previous_credentials_until"]
    moved = api("PATCH", f"/api/v1/apps/{app_id}", json={
        "config": {"url": "http://127.0.0.1:9002/hook"},
        "credentials": {"api_key": "third-key", "region_key": "third-region"}})
    assert moved.status_code == 200
    assert moved.json["previous_credentials_until"] is None


def test_the_base_adapter_sends_credentials_nowhere_but_the_platform(api):
    assert Adapter.credentials_destination({"url": "http://127.0.0.1:1/"}) is None
    app_id = api("POST", "/api/v1/apps", json={
        "name": "c", "adapter": "custom", "credentials": {"signing_secret": GOOD_SECRET}}).json["id"]
    changed = api("PATCH", f"/api/v1/apps/{app_id}", json={"config": {"text_pointer": "/body"}})
    assert changed.status_code == 200  # no destination in the config: nothing to enter again


# --- finding 7: new credentials end a rotation's grace period --------------------------------

def accepted(api, app_id, token):
    """The status of a delivery to the fake App authenticated with ``token``."""
    return api.client.post(f"/api/v1/webhooks/{app_id}", headers={"X-Fake-Token": token},
                           data=delivery({"sender": "nobody", "id": f"m-{token}"})).status_code


def rotate(api, app_id, token, keep_previous_for):
    result = api.app.test_cli_runner().invoke(args=[
        "apps", "rotate-credentials", app_id, "--credential", f"token={token}",
        "--keep-previous-for", str(keep_previous_for)])
    assert result.exit_code == 0, result.output


def test_patching_credentials_ends_the_grace_period_of_a_rotation(api):
    app_id = api("POST", "/api/v1/apps", json={"name": "f", "adapter": "fake",
                                               "credentials": {"token": "A"}}).json["id"]
    rotate(api, app_id, "B", 3600)
    assert [accepted(api, app_id, t) for t in "AB"] == [200, 200]  # A in its grace period
    patched = api("PATCH", f"/api/v1/apps/{app_id}", json={"credentials": {"token": "C"}})
    assert patched.status_code == 200
    assert patched.json["previous_credentials_until"] is None
    assert [accepted(api, app_id, t) for t in "ABC"] == [401, 401, 200]


def test_a_rotation_without_grace_ends_an_earlier_grace_period(api):
    app_id = api("POST", "/api/v1/apps", json={"name": "f", "adapter": "fake",
                                               "credentials": {"token": "A"}}).json["id"]
    rotate(api, app_id, "B", 3600)
    rotate(api, app_id, "C", 0)
    assert api("GET", f"/api/v1/apps/{app_id}").json["previous_credentials_until"] is None
    assert [accepted(api, app_id, t) for t in "ABC"] == [401, 401, 200]


# --- finding 12: a conversation is read a page at a time ------------------------------------

def conversation_of(api, count, text=lambda n: f"message {n}"):
    """An App, Contact ada and ``count`` messages from her routed to Doorkeeper: the
    conversation's id."""
    app_id = api("POST", "/api/v1/apps", json={"name": "chat", "adapter": "fake",
                                               "credentials": {"token": "t"}}).json["id"]
    api("POST", "/api/v1/contacts", json={"name": "Ada", "channels": [
        {"app_id": app_id, "sender_id": "ada"}]})
    for number in range(count):
        answer = api.client.post(f"/api/v1/webhooks/{app_id}", headers={"X-Fake-Token": "t"},
                                 data=delivery({"sender": "ada", "id": f"m{number}",
                                                "text": text(number)}))
        assert answer.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    [event] = api("GET", "/api/v1/deliveries?limit=1").json["items"]
    return int(event["messages"][0]["handler_ref"])


def test_a_conversation_is_read_oldest_first_a_page_at_a_time(api):
    conversation_id = conversation_of(api, 57)
    agent = bearer(api.app, "agent")
    path = f"/api/v1/conversations/{conversation_id}"
    first = api.client.get(path, headers=agent).json
    assert len(first["messages"]) == 50  # the default limit
    assert first["sessions"] and first["contact_id"]
    texts, cursor, pages = [], None, 0
    while True:
        answer = api.client.get(path, headers=agent, query_string={
            "limit": 20, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200
        texts += [entry["message"]["text"] for entry in answer.json["messages"]]
        cursor, pages = answer.json["next_cursor"], pages + 1
        if cursor is None:
            break
    assert pages == 3 and texts == [f"message {n}" for n in range(57)]
    for bad, field in (({"limit": 201}, "limit"), ({"limit": 0}, "limit"),
                       ({"cursor": "not-ours"}, "cursor"), ({"cursor": "aWQ6wrI"}, "cursor")):
        refused = api.client.get(path, headers=agent, query_string=bad)
        assert refused.status_code == 422, bad
        assert field in str(refused.json["error"]["details"])


def test_a_page_of_a_conversation_holds_at_most_limit_messages(api):
    conversation_id = conversation_of(api, 20, text=lambda n: f"{n:02d}" + "x" * 30_000)
    answer = api.client.get(f"/api/v1/conversations/{conversation_id}?limit=3",
                            headers=bearer(api.app, "agent"))
    assert len(answer.json["messages"]) == 3
    assert 90_000 < len(answer.data) < 100_000  # three messages, not twenty (600 KB)


def test_parallel_creates_on_real_gunicorn_workers_are_201_or_409(make_server):
    """The same race between two gunicorn workers (processes, each with its own connection):
    on PostgreSQL 23 of 100 creates were a 500 with the SQL parameters in the log."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    server = make_server(workers=2)
    token = server.cli_json("tokens", "create", "--name", "ops", "--scope", "admin")["token"]
    auth = {"Authorization": f"Bearer {token}"}
    app_id = requests.post(f"{server.url}/api/v1/apps", headers=auth, timeout=10, json={
        "name": "race", "adapter": "custom",
        "credentials": {"signing_secret": "race-signing-secret-01"}}).json()["id"]
    statuses = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        for round_number in range(10):
            body = {"name": "Ada", "channels": [{"app_id": app_id,
                                                 "sender_id": f"ada-{round_number}"}]}
            statuses += sorted(pool.map(lambda _: requests.post(
                f"{server.url}/api/v1/contacts", headers=auth, json=body,
                timeout=10).status_code, range(4)))
    assert statuses == [201, 409, 409, 409] * 10
    assert "IntegrityError" not in server.log() and "ada-" not in server.log()
