"""Property-based fuzzing (hypothesis) of every endpoint, in-process through the test client.

Whatever the request (method, header set, query string, body bytes, content type, size,
encoding, truncated or nested JSON, huge numbers), orqo must:

* never answer a 5xx (a 503 with ``Retry-After`` is legitimate only for an adapter error or a
  database outage, and neither happens here);
* give every error the shape ``{"error": {"code", "message", "details"}}``;
* never accept a webhook (2xx) without the App's valid signature (the fake adapter's token);
* never start a run (201) from a token URL without a valid token;
* never answer the API with a 2xx without a valid bearer token that has the scope;
* refuse a body over ``MAX_CONTENT_LENGTH`` with 413 without reading it (and never read a
  chunked body past the limit).

Bounded: every property runs a fixed number of examples (``ORQO_FUZZ_SCALE=10`` runs ten times
as many), on SQLite and again on PostgreSQL when configured. Run with ``-s`` to see the figures.

``FIXED_BUGS`` (and the custom adapter's cases) at the end keep the inputs that gave a 5xx
when fuzzing began and are 4xx now, class by class, so that each stays fixed; the strategies
take such inputs too (JSON nested 100,000 deep, integer literals of 6,000 digits, lone
surrogate escapes). A new bug found here is pinned the same way: an input in a test of its own
marked ``xfail(strict=True)``, which fails once the bug is fixed, until it moves to
``FIXED_BUGS``.
"""
from __future__ import annotations

import io
import json
import os
import re
import string
from collections import Counter
from collections import defaultdict
from urllib.parse import quote
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update
from werkzeug.test import EnvironBuilder
from werkzeug.test import run_wsgi_app

from orqo.api.pagination import encode_cursor
from orqo.extensions import db
from orqo.messages import ATTACHMENT_KINDS
from orqo.models import ApiToken
from orqo.models import WorkflowRun
from orqo.services.tokens import SCOPES
from orqo.services.tokens import issue_token
from orqo.services.tokens import revoke_token
from orqo.services.triggers import create_webhook_trigger
from orqo.services.triggers import rotate_trigger
from orqo.services.triggers import set_trigger_enabled
from orqo.services.workflows import create_workflow
from orqo.testing import Harness
from tests.conftest import TOKEN
from tests.plugins import fake_adapter

SCALE = float(os.environ.get("ORQO_FUZZ_SCALE", "1"))
#: Ids the strategies send: small ones that exist, any up to 64 bits, and some past them.
IDS = st.integers(1, 6) | st.integers(0, 2**63 - 1) | st.integers(2**31 - 2, 2**64 + 2)


def fuzz_settings(examples: int):
    """Bounded, no deadline (PostgreSQL is slower), fixtures shared by the examples."""
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --- what was sent, for docs/reliability.md ---------------------------------------------------

TALLY: dict = defaultdict(Counter)


@pytest.fixture(scope="module", autouse=True)
def figures():
    """Print how many requests (one per example) each property sent, and their statuses."""
    yield
    if not TALLY:
        return
    print("\nfuzzing figures (property [database]: requests = examples, 5xx, statuses)")
    for key, counts in sorted(TALLY.items()):
        statuses = dict(sorted((k, v) for k, v in counts.items() if isinstance(k, int)))
        print(f"  {key}: {counts['requests']} requests, "
              f"{sum(v for k, v in statuses.items() if k >= 500)} 5xx, {statuses}")


def label(fuzz, name: str) -> str:
    """The tally key of a property on this database."""
    return f"{name} [{fuzz.db}]"


def check(key: str, response, method="POST"):
    """The properties every answer has: no 5xx, and errors in orqo's one shape."""
    TALLY[key]["requests"] += 1
    TALLY[key][response.status_code] += 1
    body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{response.status_code} {response.headers} {body[:600]}"
    if response.status_code >= 400 and method != "HEAD":
        document = response.get_json(force=True, silent=True)
        assert isinstance(document, dict) and set(document) == {"error"}, body[:600]
        error = document["error"]
        assert set(error) == {"code", "message", "details"}, body[:600]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]


def send(client, path, method="POST", body=b"", headers=(), query="", content_type=None):
    """One request with exactly ``body`` as its bytes (the test client would otherwise encode
    an empty body as a form for form content types)."""
    return client.open(path, method=method, input_stream=io.BytesIO(body), headers=list(headers),
                       query_string=query or None, content_type=content_type)


# --- strategies -----------------------------------------------------------------------------

TOKEN_CHARS = string.ascii_letters + string.digits + "-_!#$%&'*+.^`|~"
# What an HTTP field value may hold: visible ASCII, space, tab, and obs-text (0x80-0xFF).
FIELD_CHARS = "\t" + "".join(chr(c) for c in [*range(0x20, 0x7F), *range(0x80, 0x100)])
# Framing, and the headers whose values a test chooses itself.
FRAMING = {"content-length", "transfer-encoding", "host", "content-type", "authorization",
           "x-fake-token", "x-signature-256", "idempotency-key"}
INTERESTING_HEADERS = ["X-Request-ID", "Accept", "Accept-Encoding",
                       "Content-Encoding", "X-Forwarded-For", "X-Forwarded-Proto",
                       "X-Forwarded-Host", "Cookie", "Origin", "X-HTTP-Method-Override",
                       "X-Hub-Signature-256", "webhook-id", "Expect"]
CONTENT_TYPES = [None, "application/json", "application/json", "application/json",
                 "application/json; charset=utf-8",
                 "application/json; charset=latin-1", "application/problem+json", "text/plain",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=xYzZy",
                 "multipart/form-data", "application/octet-stream", "", ";;;=",
                 "application/json; charset=no-such-charset", "text/html; charset=utf-16"]

field_values = st.text(FIELD_CHARS, max_size=80)
header_names = st.one_of(st.sampled_from(INTERESTING_HEADERS),
                         st.text(TOKEN_CHARS, min_size=1, max_size=30)).filter(
    lambda name: name.lower().replace("_", "-") not in FRAMING)
extra_headers = st.lists(st.tuples(header_names, field_values), max_size=6)


def api_text(**kwargs):
    """Text, NUL included, that is valid Unicode (paths and query strings are UTF-8 encoded)."""
    return st.text(st.characters(codec="utf-8"), **kwargs)


def body_text(**kwargs):
    """Text for JSON bodies: valid Unicode, and now and then a lone surrogate, which
    ``json.dumps`` writes as an escape (``"\\udc00"``) as any sender could."""
    return api_text(**kwargs) | st.sampled_from(["\udc00", "a\ud800b", "\udfff"])


def json_values(text=st.text(), integers=st.integers(), max_leaves=12):
    """JSON values, nested a little (:func:`bodies` nests deeper)."""
    scalars = (st.none() | st.booleans() | integers
               | st.floats(allow_nan=False, allow_infinity=False) | text)
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(text, inner, max_size=4), max_leaves=max_leaves)


def query_strings(keys=(), text=st.text(), raw_ok=True):
    """A query string: pairs (names orqo reads, and others), or raw, possibly broken, text."""
    pairs = st.lists(st.tuples(st.sampled_from(keys) | text if keys else text, text), max_size=5)
    encoded = pairs.map(lambda items: urlencode(items))
    raw = st.text(string.printable.replace("\n", "").replace("\r", "") + "%&=+é", max_size=60)
    return st.one_of(encoded, raw) if raw_ok else encoded


@st.composite
def bodies(draw, values=None, max_depth=100_000, max_digits=6000):
    """Body bytes of every kind: binary, JSON, truncated, not UTF-8, nested, huge, forms.

    Nested up to ``max_depth`` (past Python's recursion limit), integers of up to ``max_digits``
    digits (past the 4,300 that Python converts).
    """
    values = json_values() if values is None else values
    kind = draw(st.sampled_from(["binary", "json", "truncated", "not utf-8", "nested", "number",
                                 "padded", "form", "empty"]))
    if kind == "binary":
        return draw(st.binary(max_size=1024))
    if kind == "empty":
        return draw(st.sampled_from([b"", b" ", b"\r\n", b"{}", b"[]", b"null"]))
    # A lone surrogate is an escape with ensure_ascii, bytes that are not UTF-8 without.
    document = json.dumps(draw(values), ensure_ascii=draw(st.booleans())).encode(
        "utf-8", "surrogatepass")
    if kind == "json":
        return document
    if kind == "truncated":
        return document[:draw(st.integers(0, max(0, len(document) - 1)))]
    if kind == "not utf-8":
        at = draw(st.integers(0, len(document)))
        return document[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80",
                                                     b"\xfe\xff", b"\x80"])) + document[at:]
    if kind == "nested":
        depth = draw(st.integers(1, max_depth))
        opening, closing = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        return (opening * depth + "1" + closing * depth).encode()
    if kind == "number":
        numbers = ["9" * draw(st.integers(1, max_digits)), "-" + "9" * 40, "1e308", "0.1e-400",
                   "1e999", "-1e999", "NaN", "Infinity", "-Infinity"]
        number = draw(st.sampled_from(numbers))
        return draw(st.sampled_from([number, f'{{"n": {number}}}', f"[{number}]"])).encode()
    if kind == "padded":  # a large, valid document
        return json.dumps({"pad": "x" * draw(st.integers(1, 200_000))}).encode()
    return draw(st.sampled_from([b"a=1&b=%ff&c", b"--xYzZy\r\nContent-Disposition: form-data; "
                                 b"name=\"a\"\r\n\r\nb\r\n--xYzZy--\r\n", b"--xYzZy\r\n"]))


# --- the fuzzed instance --------------------------------------------------------------------

@pytest.fixture
def fuzz(fake, database_url):
    """The ``fake`` harness plus API tokens of each scope (and a revoked one), a workflow, its
    token URL, a rotated-away token URL and a disabled one; limits off so every request gets
    past them."""
    fake.app.config.update(TRIGGER_RATE_LIMIT=0, SENDER_RATE_LIMIT=0)
    fake.db = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with fake.app.app_context():
        issued = {scope: issue_token(f"fuzz {scope}", [scope]) for scope in SCOPES}
        fake.tokens = {scope: secret for scope, (_token, secret) in issued.items()}
        fake.token_ids = [token.id for token, _secret in issued.values()]
        revoked, fake.revoked_token = issue_token("fuzz revoked", ["admin"])
        revoke_token(revoked.id)
        fake.workflow_id = create_workflow("Fuzzed workflow").id
        _trigger, fake.hook_token = create_webhook_trigger(fake.workflow_id)
        rotated, fake.old_hook_token = create_webhook_trigger(fake.workflow_id)
        rotate_trigger(rotated.id, 0)
        disabled, fake.disabled_hook_token = create_webhook_trigger(fake.workflow_id)
        set_trigger_enabled(disabled.id, False)
    return fake


def runs_started(fuzz) -> int:
    with fuzz.app.app_context():
        return db.session.scalar(select(func.count()).select_from(WorkflowRun))


def bearer(fuzz, kind: str) -> list:
    """The Authorization header of one kind: a valid token of a scope, or not a valid one."""
    valid = {f"valid {scope}": fuzz.tokens[scope] for scope in SCOPES}
    if kind in valid:
        scheme = "Bearer" if kind != "valid admin" else "bearer"  # the scheme is case-blind
        return [("Authorization", f"{scheme} {valid[kind]}")]
    return {
        "none": [],
        "empty": [("Authorization", "")],
        "revoked": [("Authorization", f"Bearer {fuzz.revoked_token}")],
        "basic": [("Authorization", f"Basic {fuzz.tokens['admin']}")],
        "no scheme": [("Authorization", fuzz.tokens["admin"])],
        "truncated": [("Authorization", f"Bearer {fuzz.tokens['admin'][:-1]}")],
        "extended": [("Authorization", f"Bearer {fuzz.tokens['admin']}x")],
        "cased": [("Authorization", f"Bearer {fuzz.tokens['admin'].upper()}")],
        "made up": [("Authorization", "Bearer orqo_" + "A" * 43)],
        "hook token": [("Authorization", f"Bearer {fuzz.hook_token}")],
    }[kind]


AUTH_KINDS = ["none", "empty", "revoked", "basic", "no scheme", "truncated", "extended", "cased",
              "made up", "hook token", *(f"valid {scope}" for scope in SCOPES)]


# --- webhooks -------------------------------------------------------------------------------

def forged_signatures(given_token: str) -> dict:
    """Ways of sending the fake adapter's token header that are not one valid token."""
    return {
        "absent": [],
        "wrong": [("X-Fake-Token", TOKEN[:-1] + "4")],
        "empty": [("X-Fake-Token", "")],
        "truncated": [("X-Fake-Token", TOKEN[:-1])],
        "extended": [("X-Fake-Token", TOKEN + "4")],
        "cased value": [("X-Fake-Token", TOKEN.upper())],
        "twice": [("X-Fake-Token", TOKEN), ("X-Fake-Token", TOKEN)],
        "valid and wrong": [("X-Fake-Token", TOKEN), ("x-fake-token", "nope")],
        "another header": [("X-Fake-Tokens", TOKEN), ("Fake-Token", TOKEN)],
        "random": [("X-FAKE-TOKEN", given_token)],
        "bearer": [("Authorization", f"Bearer {TOKEN}")],
    }


@fuzz_settings(200)
@given(data=st.data())
def test_webhooks_never_accept_without_a_valid_signature(fuzz, data):
    key = label(fuzz, "webhook, forged or unsigned")
    method = data.draw(st.sampled_from(["POST"] * 6 + ["GET"] * 3 + ["PUT", "DELETE", "HEAD"]))
    app_id = data.draw(st.sampled_from([fuzz.app_id] * 8 + ["", "x" * 65, "a/b", "..", "é"])
                       | st.just(fuzz.app_id) | st.text(max_size=70))
    random_token = data.draw(field_values.filter(lambda value: value != TOKEN))
    signature = data.draw(st.sampled_from(sorted(forged_signatures(random_token))))
    headers = forged_signatures(random_token)[signature] + data.draw(extra_headers)
    query = data.draw(query_strings(keys=["hub.challenge", "hub.verify_token", "X-Fake-Token",
                                          "token"]))
    if data.draw(st.booleans()):
        query = f"{query}&X-Fake-Token={TOKEN}"  # the secret in the query does not count
    content_type = data.draw(st.sampled_from(CONTENT_TYPES))
    response = send(fuzz.client, f"/api/v1/webhooks/{quote(app_id, safe='')}", method,
                    data.draw(bodies()), headers, query, content_type)
    check(key, response, method)
    assert not 200 <= response.status_code < 300, (signature, response.get_data(as_text=True))
    if app_id == fuzz.app_id and method in ("POST", "GET"):
        assert response.status_code == 401


@st.composite
def fake_deliveries(draw):
    """Bodies the fake adapter parses: messages with every kind of text in their fields."""
    ids = st.text(min_size=1, max_size=512)
    message = st.fixed_dictionaries(
        {"sender": st.sampled_from(["ada", "ada", "mallory"]) | st.text(min_size=1, max_size=512),
         "id": st.sampled_from(["m1", "m2"]) | ids},
        optional={"text": st.text(max_size=2000) | st.just("\x00 \ud800 \U0001F600" * 50),
                  "thread": ids, "chat": ids, "name": st.text(max_size=1000)})
    extra = st.dictionaries(st.text(max_size=8).filter(
        lambda k: k not in ("crash", "bad_result", "challenge", "messages")), json_values(),
        max_size=3)
    document = {"messages": draw(st.lists(message, max_size=4)), **draw(extra)}
    if draw(st.booleans()):
        document["reason"] = draw(st.text(max_size=300))
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")


@fuzz_settings(150)
@given(data=st.data())
def test_signed_webhooks_are_never_a_5xx(fuzz, data):
    key = label(fuzz, "webhook, signed (fake adapter)")
    challenge = st.text(max_size=200).map(lambda c: json.dumps({"challenge": c}).encode())
    not_json = bodies(max_depth=1).filter(lambda body: not _is_json(body))
    body = data.draw(st.one_of(fake_deliveries(), fake_deliveries(), challenge, not_json))
    name = data.draw(st.sampled_from(["X-Fake-Token", "x-fake-token", "X-FAKE-TOKEN"]))
    headers = [(name, TOKEN)] + data.draw(extra_headers)
    response = send(fuzz.client, f"/api/v1/webhooks/{fuzz.app_id}", "POST", body, headers,
                    data.draw(query_strings()), data.draw(st.sampled_from(CONTENT_TYPES)))
    check(key, response)
    assert response.status_code in (200, 400), response.get_data(as_text=True)
    if response.status_code == 200 and response.is_json:
        outcomes = {m["outcome"] for m in response.get_json()["messages"]}
        assert outcomes <= {"routed", "duplicate", "unknown_sender"}


def _is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True


#: The custom App's signing secret (HMAC secrets are at least 16 bytes).
FUZZ_SECRET = "fuzz-secret-of-16-bytes"


@pytest.fixture
def custom(make_app, database_url):
    """A Harness with a custom-adapter App (HMAC-SHA256 of the body), if the plugin is there."""
    orqo_custom = pytest.importorskip("orqo_custom")
    harness = Harness(make_app(plugins=[orqo_custom], SENDER_RATE_LIMIT=0))
    harness.app_id = harness.add_app("custom", {"signing_secret": FUZZ_SECRET})
    harness.add_contact({harness.app_id: "ada"})
    harness.db = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    harness.sign = orqo_custom.sign
    return harness


@fuzz_settings(120)
@given(data=st.data())
def test_signed_arbitrary_bytes_to_a_real_adapter_are_never_a_5xx(custom, data):
    """Past verification, with every kind of body: the custom adapter and core answer 2xx/400."""
    key = label(custom, "webhook, signed (custom adapter)")
    # Around the normalised message's limits (ids of 1 to 512 characters, urls up to 4096).
    ids = st.text(min_size=1, max_size=520)
    fields = json_values(text=st.text(max_size=512), integers=st.integers(-10**300, 10**300))
    attachment = st.fixed_dictionaries({"kind": st.sampled_from(ATTACHMENT_KINDS) | fields},
                                       optional={
        "file_id": ids | fields, "url": st.text(max_size=300) | st.just("u" * 4097),
        "mime_type": st.text(max_size=300),
        "name": st.text(max_size=2000), "other": fields})
    shaped = st.fixed_dictionaries({
        "sender": st.sampled_from(["ada", "mallory"]) | ids,
        "id": ids | st.integers() | st.floats(allow_nan=False) | fields}, optional={
        "text": fields, "thread": ids | fields, "chat": ids | fields, "sender_name": fields,
        "sent_at": fields, "attachments": st.lists(attachment, max_size=3) | fields})
    as_json = shaped.map(lambda document: json.dumps(document, ensure_ascii=False).encode())
    body = data.draw(as_json | bodies(values=json_values() | shaped))
    headers = [("X-Signature-256", custom.sign(FUZZ_SECRET, body))] + data.draw(extra_headers)
    response = send(custom.client, f"/api/v1/webhooks/{custom.app_id}", "POST", body, headers,
                    content_type=data.draw(st.sampled_from(CONTENT_TYPES)))
    check(key, response)
    assert response.status_code in (200, 400), response.get_data(as_text=True)


# --- token URLs and the API trigger ---------------------------------------------------------

@fuzz_settings(150)
@given(data=st.data())
def test_token_urls_never_start_a_run_without_a_valid_token(fuzz, data):
    key = label(fuzz, "token URL, wrong token")
    valid = fuzz.hook_token
    token = data.draw(st.sampled_from([
        valid[:-1], valid + "A", valid.upper(), valid.swapcase(), valid[1:], f"{valid}/",
        f"{valid}/x", f"x/{valid}", valid.replace(valid[5], "-" if valid[5] != "-" else "_"),
        fuzz.old_hook_token, fuzz.disabled_hook_token, fuzz.tokens["trigger"],
        quote(valid[:20]) + "%2F" + valid[20:], "", "%00", "..%2F..%2Fapi%2Fv1%2Ftrigger",
    ]) | st.text(max_size=100).map(lambda text: quote(text, safe="/")))
    method = data.draw(st.sampled_from(["POST"] * 6 + ["GET", "PUT", "DELETE"]))
    headers = data.draw(extra_headers) + bearer(fuzz, "valid trigger")
    before = runs_started(fuzz)
    response = send(fuzz.client, f"/api/v1/hooks/{token}", method, data.draw(bodies()),
                    headers, data.draw(query_strings(raw_ok=False)),
                    data.draw(st.sampled_from(CONTENT_TYPES)))
    check(key, response, method)
    assert not 200 <= response.status_code < 300, (token, response.get_data(as_text=True))
    assert runs_started(fuzz) == before


idempotency_keys = st.one_of(st.just(None), st.just(""), st.text(FIELD_CHARS, max_size=300),
                             # UTF-8 bytes as a server hands them over: one latin-1 char each
                             st.sampled_from(["order-1", "order-1",
                                              "Ünïcode-κλειδί".encode().decode("latin-1")]))


@fuzz_settings(150)
@given(data=st.data())
def test_token_url_with_any_body_is_never_a_5xx(fuzz, data):
    key = label(fuzz, "token URL, valid token")
    headers = data.draw(extra_headers)
    idempotency_key = data.draw(idempotency_keys)
    if idempotency_key is not None:
        headers.append(("Idempotency-Key", idempotency_key))
    body = data.draw(bodies(values=json_values()))
    response = send(fuzz.client, f"/api/v1/hooks/{fuzz.hook_token}", "POST", body, headers,
                    data.draw(query_strings()), data.draw(st.sampled_from(CONTENT_TYPES)))
    check(key, response)
    assert response.status_code in (201, 413, 415, 422), response.get_data(as_text=True)


@fuzz_settings(200)
@given(data=st.data())
def test_api_trigger_is_never_a_5xx_and_needs_a_trigger_token(fuzz, data):
    key = label(fuzz, "API trigger")
    auth = data.draw(st.just("valid trigger") | st.sampled_from(AUTH_KINDS))
    ids = st.just(fuzz.workflow_id) | IDS | st.integers()
    values = json_values(text=api_text(max_size=50), integers=IDS | st.integers())
    metadata = st.dictionaries(api_text(max_size=20), values, max_size=3) | values
    shaped = st.fixed_dictionaries({"workflow_id": ids}, optional={
        "input": values, "task": values, "metadata": metadata, "unexpected": values,
    }).map(json.dumps).map(str.encode)
    body = data.draw(shaped | bodies(values=values))
    headers = bearer(fuzz, auth) + data.draw(extra_headers)
    idempotency_key = data.draw(idempotency_keys)
    if idempotency_key is not None:
        headers.append(("Idempotency-Key", idempotency_key))
    before = runs_started(fuzz)
    response = send(fuzz.client, "/api/v1/trigger", "POST", body, headers, content_type=data.draw(
        st.just("application/json") | st.sampled_from(CONTENT_TYPES)))
    check(key, response)
    if auth not in ("valid trigger", "valid admin"):
        assert not 200 <= response.status_code < 300, (auth, response.get_data(as_text=True))
        assert runs_started(fuzz) == before


# --- the agent and management API -----------------------------------------------------------

#: Every API endpoint and the scopes that may call it (``admin`` may call all). An endpoint
#: missing here fails test_every_endpoint_is_fuzzed: add it, so that it is fuzzed too.
ENDPOINT_SCOPES = {
    "waitboxes.open_waitbox": {"agent"}, "waitboxes.list_waitboxes": {"agent"},
    "waitboxes.get_waitbox": {"agent"}, "waitboxes.cancel_waitbox": {"agent"},
    "doorkeeper.claim": {"agent"}, "doorkeeper.ack": {"agent"},
    "doorkeeper.get_conversation": {"agent"},
    "messages.send_message": {"agent"}, "messages.get_message": {"agent"},
    "messages.replay_message": set(), "messages.list_messages": set(),
    "messages.retry_message": set(),
    "runs.get_run": {"agent", "trigger"}, "runs.claim_runs": {"agent"},
    "runs.report_progress": {"agent"}, "triggers.api_trigger": {"trigger"},
    **{f"{blueprint}.{view}": set() for blueprint, views in {
        "apps": ["list_apps", "create_app", "get_app", "update_app", "delete_app",
                 "list_contacts", "create_contact", "get_contact", "update_contact",
                 "delete_contact"],
        "workflows": ["list_workflows", "create_workflow", "get_workflow", "update_workflow",
                      "delete_workflow", "list_triggers", "create_trigger", "update_trigger",
                      "rotate_trigger", "delete_trigger", "list_app_event_triggers",
                      "create_app_event_trigger", "delete_app_event_trigger", "list_runs"],
        "tokens": ["list_tokens", "create_token", "revoke_token"],
        "deliveries": ["list_deliveries", "get_delivery"],
        "rejections": ["list_rejections"],
        "adapters": ["list_adapters"],
    }.items() for view in views},
}
#: Fuzzed by the tests above, or answering without a token.
OTHER_ENDPOINTS = {"webhooks.receive", "triggers.hook", "health.healthz", "health.readyz",
                   "metrics", "api-docs.openapi_json", "static", "api_docs_page.docs",
                   "api_docs_page.static"}


def api_field_names() -> list[str]:
    """Every field name of the API's request schemas and query arguments."""
    from marshmallow import Schema

    from orqo.api import admin_schemas
    from orqo.api import schemas

    names = set()
    for module in (schemas, admin_schemas):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Schema):
                names.update(value._declared_fields)
    return sorted(names)


FIELD_NAMES = api_field_names()


def test_every_endpoint_is_fuzzed(app):
    # The console's HTML pages (orqo/console) are tested in tests/test_console*.py.
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()
                 if not rule.endpoint.startswith("console.")}
    assert endpoints - set(ENDPOINT_SCOPES) - OTHER_ENDPOINTS == set()
    assert set(ENDPOINT_SCOPES) <= endpoints


@st.composite
def api_request(draw, fuzz, endpoint: str):
    """One request to ``endpoint``: its path values, query, body, headers and bearer token."""
    [rule] = [rule for rule in fuzz.app.url_map.iter_rules() if rule.endpoint == endpoint]
    [method] = sorted(rule.methods - {"HEAD", "OPTIONS"})  # one view per method here
    values = {}
    for converter, argument in re.findall(r"<(?:(\w+):)?(\w+)>", rule.rule):
        if converter == "int":
            values[argument] = draw(IDS)
        else:
            values[argument] = draw(st.just(fuzz.app_id) | api_text(min_size=1, max_size=70))
    path = fuzz.app.url_map.bind("localhost").build(endpoint, values, method=method)
    plausible = {"app_id": st.just(fuzz.app_id), "contact_id": st.just(fuzz.ada),
                 "workflow_id": st.just(fuzz.workflow_id),
                 "entry_ids": st.lists(st.integers(1, 6)),
                 "scopes": st.lists(st.sampled_from(SCOPES)), "adapter": st.just("fake"),
                 "credentials": st.just({"token": TOKEN}),
                 "channels": st.just([{"app_id": fuzz.app_id, "sender_id": "ada"}]),
                 "cursor": IDS.map(encode_cursor)}
    api_values = json_values(text=body_text(max_size=40), integers=IDS | st.integers())
    field = st.sampled_from(FIELD_NAMES)
    document = draw(st.dictionaries(field | api_text(max_size=10), api_values, max_size=6))
    for name in draw(st.lists(st.sampled_from(sorted(plausible)), max_size=3)):
        document[name] = draw(plausible[name])
    body = draw(st.just(json.dumps(document).encode())
                | bodies(values=api_values))
    query = draw(st.lists(st.tuples(field | api_text(max_size=10),
                                    api_text(max_size=30) | IDS.map(str)), max_size=4))
    valid = ["valid admin", "valid admin", "valid agent", "valid trigger"]
    auth = draw(st.sampled_from(valid) | st.sampled_from(AUTH_KINDS))
    headers = bearer(fuzz, auth) + draw(extra_headers)
    return method, path, urlencode(query), body, headers, draw(st.sampled_from(CONTENT_TYPES)), auth


#: The endpoints, dealt into shards: every example of a shard sends one request to each of its
#: endpoints, so that each endpoint gets exactly as many examples as the shard runs.
SHARDS = 6


@pytest.mark.parametrize("shard", range(SHARDS))
@fuzz_settings(12)
@given(data=st.data())
def test_api_endpoints_are_never_a_5xx_and_need_a_token_with_the_scope(fuzz, shard, data):
    key = label(fuzz, "API (agent and management)")
    for endpoint in sorted(ENDPOINT_SCOPES)[shard::SHARDS]:
        method, path, query, body, headers, content_type, auth = data.draw(
            api_request(fuzz, endpoint), label=endpoint)
        response = send(fuzz.client, path, method, body, headers, query, content_type)
        check(key, response, method)
        TALLY[f"  endpoint {method} {endpoint} [{fuzz.db}]"]["requests"] += 1
        allowed = {"valid admin"} | {f"valid {scope}" for scope in ENDPOINT_SCOPES[endpoint]}
        if auth not in allowed:
            assert not 200 <= response.status_code < 300, (endpoint, auth, response.data)
            # 404, 405: a path value with %2F no longer matches the route; 308: one with "//"
            # is redirected to the merged path. Nothing ran.
            assert response.status_code in (308, 401, 403, 404, 405), (endpoint, response.data)
        if endpoint == "tokens.revoke_token":  # the fuzz's own tokens stay valid
            with fuzz.app.app_context():
                db.session.execute(update(ApiToken).where(ApiToken.id.in_(fuzz.token_ids))
                                   .values(revoked_at=None))
                db.session.commit()


@fuzz_settings(60)
@given(data=st.data())
def test_unknown_paths_and_public_endpoints_are_never_a_5xx(fuzz, data):
    key = label(fuzz, "public endpoints and unknown paths")
    path = data.draw(st.sampled_from(["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json",
                                      "/api/v1/", "/api/v1/webhooks", "/api/v2/trigger",
                                      "/static/../setup.cfg"])
                     | api_text(max_size=60).map(lambda text: "/api/v1/" + quote(text)))
    method = data.draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]))
    response = send(fuzz.client, path, method, data.draw(bodies()),
                    data.draw(extra_headers), data.draw(query_strings(text=api_text())))
    check(key, response, method)


# --- sizes ----------------------------------------------------------------------------------

class EndlessBody(io.RawIOBase):
    """A request body of ``size`` bytes (``start``, then ``fill``) that counts how many of them
    the app read."""

    def __init__(self, size: int, start: bytes = b"", fill: bytes = b"x"):
        self.left = size
        self.start = start
        self.fill = fill
        self.read_bytes = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.left)
        at = self.read_bytes
        chunk = (self.start[at:at + count] if at < len(self.start) else b"").ljust(count,
                                                                                   self.fill)
        buffer[:count] = chunk
        self.left -= count
        self.read_bytes += count
        return count


def post_stream(app, path, headers, body: EndlessBody, chunked: bool):
    """POST ``body`` to the WSGI app as a server hands it over: with its Content-Length, or
    chunked (no length; the server terminates the stream, as gunicorn says it does)."""
    environ = EnvironBuilder(path=path, method="POST", headers=headers,
                             content_type="application/json").get_environ()
    environ["wsgi.input"] = body
    if chunked:
        environ.pop("CONTENT_LENGTH", None)
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(body.left)
    app_iter, status, _headers = run_wsgi_app(app, environ, buffered=True)
    return int(status.split()[0]), json.loads(b"".join(app_iter))


@pytest.fixture
def small_limit(make_app):
    """An app that takes bodies of at most 1024 bytes, with a fake App, tokens, a token URL."""
    harness = Harness(make_app(plugins=[fake_adapter], MAX_CONTENT_LENGTH=1024))
    harness.app_id = harness.add_app("fake", {"token": TOKEN})
    with harness.app.app_context():
        harness.admin = issue_token("admin", ["admin"])[1]
        harness.trigger = issue_token("trigger", ["trigger"])[1]
        _trigger, harness.hook_token = create_webhook_trigger(create_workflow("Big bodies").id)
    return harness


def over_the_limit_targets(harness) -> dict:
    return {
        "webhook": (f"/api/v1/webhooks/{harness.app_id}", [("X-Fake-Token", TOKEN)]),
        "token URL": (f"/api/v1/hooks/{harness.hook_token}", []),
        "API trigger": ("/api/v1/trigger", [("Authorization", f"Bearer {harness.trigger}")]),
        "API body": ("/api/v1/workflows", [("Authorization", f"Bearer {harness.admin}")]),
    }


def test_a_body_over_the_limit_is_413_without_being_read(small_limit):
    for name, (path, headers) in over_the_limit_targets(small_limit).items():
        body = EndlessBody(50 * 1024 * 1024)
        status, document = post_stream(small_limit.app, path, headers, body, chunked=False)
        assert status == 413, (name, document)
        assert document["error"]["code"] == "request_entity_too_large"
        assert body.read_bytes == 0, name


def test_a_streamed_body_over_the_limit_is_not_read_past_the_limit(small_limit):
    for name, (path, headers) in over_the_limit_targets(small_limit).items():
        body = EndlessBody(50 * 1024 * 1024)
        status, document = post_stream(small_limit.app, path, headers, body, chunked=True)
        assert 400 <= status < 500, (name, document)
        assert body.read_bytes <= 1024 + 64 * 1024, (name, body.read_bytes)


def test_a_streamed_body_over_the_limit_is_413(small_limit):
    """werkzeug's LimitedStream stops at the limit without a 413 (it cannot tell a body that
    ends there from a longer one): orqo.bodies.limit_chunked_body reads one byte further."""
    # Valid JSON in the first 1024 bytes, then 50 MB of spaces: it must not be taken.
    starts = {"webhook": json.dumps({"messages": []}).encode(), "token URL": b'{"a": 1}',
              "API trigger": b"{}", "API body": json.dumps({"name": "Big"}).encode()}
    answers = {}
    for name, (path, headers) in over_the_limit_targets(small_limit).items():
        body = EndlessBody(50 * 1024 * 1024, starts[name], fill=b" ")
        answers[name] = post_stream(small_limit.app, path, headers, body, chunked=True)[0]
    assert answers == dict.fromkeys(answers, 413)


def test_the_limit_is_exact(small_limit):
    path = f"/api/v1/webhooks/{small_limit.app_id}"
    at_limit = json.dumps({"messages": [], "pad": "x" * 990}).ljust(1024).encode()
    assert len(at_limit) == 1024
    assert small_limit.deliver(small_limit.app_id, at_limit,
                               {"X-Fake-Token": TOKEN}).status_code == 200
    over = send(small_limit.client, path, body=at_limit + b" ", headers=[("X-Fake-Token", TOKEN)])
    assert over.status_code == 413


# --- fixed bugs: inputs that gave a 5xx once --------------------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


def _json(fuzz, method, path, body: bytes, auth="valid admin", headers=()):
    return send(fuzz.client, path, method, body, bearer(fuzz, auth) + list(headers),
                content_type="application/json")


#: Inputs that gave a 5xx when fuzzing began and are 4xx now: they must stay so.
FIXED_BUGS = {
    # json.loads raises RecursionError (not a ValueError) for deeply nested JSON, which got
    # through to the 500 handler; orqo.bodies.parse_json answers 422 invalid_json.
    "deeply-nested-json": lambda fuzz: {
        "token URL": _json(fuzz, "POST", f"/api/v1/hooks/{fuzz.hook_token}", DEEP, "none"),
        "API trigger": _json(fuzz, "POST", "/api/v1/trigger", DEEP, "valid trigger"),
        "API body (webargs)": _json(fuzz, "POST", "/api/v1/workflows", DEEP),
    },
    # An integer literal of more than 4300 digits makes json.loads raise a plain ValueError,
    # which webargs' own JSON reading did not catch (only JSONDecodeError).
    "huge-integer-literal": lambda fuzz: {
        "API body": _json(fuzz, "POST", "/api/v1/workflows", b"9" * 5000),
        "API body field": _json(fuzz, "POST", "/api/v1/doorkeeper/claims",
                                b'{"claimant": "x", "limit": ' + b"1" * 4301 + b"}",
                                "valid agent"),
    },
    # A JSON escape of a lone surrogate ("\udc00") makes a str that cannot be encoded as UTF-8:
    # it failed at INSERT. Now 422 invalid_json wherever the API reads JSON.
    "lone-surrogate": lambda fuzz: {
        "workflow name": _json(fuzz, "POST", "/api/v1/workflows", b'{"name": "\\udc00"}'),
        "contact name": _json(fuzz, "POST", "/api/v1/contacts", b'{"name": "x\\ud800"}'),
        "token URL input": _json(fuzz, "POST", f"/api/v1/hooks/{fuzz.hook_token}",
                                 b'{"a": ["\\udfff"]}', "none"),
    },
    # Past the database's integer (PostgreSQL INTEGER: 2**31 - 1; SQLite: 2**63 - 1).
    "integer-overflow": lambda fuzz: {
        "path 2**31": _json(fuzz, "GET", f"/api/v1/contacts/{2**31}", b""),
        "path 2**64": _json(fuzz, "GET", f"/api/v1/contacts/{2**64}", b""),
        "query contact_id": _json(fuzz, "GET", f"/api/v1/waitboxes?contact_id={2**64}", b"",
                                  "valid agent"),
        "cursor": _json(fuzz, "GET", f"/api/v1/contacts?cursor={encode_cursor(2**64)}", b""),
        "body workflow_id": _json(fuzz, "POST", "/api/v1/trigger",
                                  json.dumps({"workflow_id": 2**31}).encode(), "valid trigger"),
        "body entry_ids": _json(fuzz, "POST", "/api/v1/doorkeeper/acks", json.dumps(
            {"claim_token": "x", "entry_ids": [2**64]}).encode(), "valid agent"),
    },
    # PostgreSQL text cannot hold U+0000: a body or header holding it is refused on every
    # database; a query or path value reaches the query (PostgreSQL 422, SQLite finds none).
    "nul": lambda fuzz: {
        "query app_id": _json(fuzz, "GET", "/api/v1/contacts?app_id=%00", b""),
        "path app_id": _json(fuzz, "GET", "/api/v1/apps/a%00b", b""),
        "body name": _json(fuzz, "POST", "/api/v1/workflows", b'{"name": "a\\u0000b"}'),
        "body thread_id": _json(fuzz, "POST", "/api/v1/waitboxes", json.dumps({
            "app_id": fuzz.app_id, "contact_id": fuzz.ada, "expires_in": 60,
            "thread_id": "\x00"}).encode(), "valid agent"),
        "Idempotency-Key": _json(fuzz, "POST", f"/api/v1/hooks/{fuzz.hook_token}", b"{}",
                                 "none", [("Idempotency-Key", "a\x00b")]),
    },
    # Python's json reads NaN, Infinity and 1e999; PostgreSQL's json type refuses them. Now
    # orqo.bodies.decode_json refuses them as JSON does: 422 invalid_json on every database.
    "non-finite-number": lambda fuzz: {
        "token URL 1e999": _json(fuzz, "POST", f"/api/v1/hooks/{fuzz.hook_token}",
                                 b'{"amount": 1e999}', "none"),
        "token URL NaN": _json(fuzz, "POST", f"/api/v1/hooks/{fuzz.hook_token}", b"[NaN]",
                               "none"),
        "API trigger Infinity": _json(fuzz, "POST", "/api/v1/trigger", b'{"workflow_id": %d, '
                                      b'"input": Infinity}' % fuzz.workflow_id, "valid trigger"),
    },
}


def failures_of(fuzz, what: str, responses: dict) -> dict:
    """The inputs of ``responses`` whose answer breaks :func:`check`."""
    failures = {}
    for name, response in responses.items():
        try:
            check(label(fuzz, what), response)
        except AssertionError as exc:
            failures[name] = str(exc)[:200]
    return failures


@pytest.mark.parametrize("bug", sorted(FIXED_BUGS))
def test_fixed_bug_stays_fixed(fuzz, bug):
    assert not failures_of(fuzz, f"fixed bug {bug}", FIXED_BUGS[bug](fuzz))


def _custom_delivery(**fields) -> bytes:
    return json.dumps({"sender": "ada", "id": "m1", "text": "Grüße", **fields}).encode()


@pytest.mark.parametrize("body", [
    # json.loads raises RecursionError, which orqo_custom.parse did not catch (ValueError).
    pytest.param(DEEP, id="deeply-nested-json"),
    # float(10**400) raised OverflowError in orqo_custom.parse.
    pytest.param(b'{"sender": "ada", "id": "m1", "sent_at": 1' + b"0" * 400 + b"}",
                 id="sent_at-past-float-range"),
    # Values past the normalised message's limits (ids of 1 to 512 characters, the attachment
    # kinds, string file ids, urls up to 4096) were passed on unchecked: orqo refused the
    # adapter's parse result (a PluginError, 503), not the sender's body (400).
    pytest.param(_custom_delivery(id="i" * 513), id="id-over-512-characters"),
    pytest.param(_custom_delivery(sender="s" * 513), id="sender-over-512-characters"),
    pytest.param(_custom_delivery(thread="t" * 513), id="thread-over-512-characters"),
    pytest.param(_custom_delivery(attachments=[{"kind": "hologram"}]),
                 id="attachment-of-unknown-kind"),
    pytest.param(_custom_delivery(attachments=[{"kind": "image", "file_id": 42}]),
                 id="attachment-file-id-not-a-string"),
    pytest.param(_custom_delivery(attachments=[{"kind": "image", "url": "u" * 4097}]),
                 id="attachment-url-over-4096-characters"),
])
def test_fixed_bug_in_the_custom_adapter_stays_fixed(custom, body):
    """Validly signed bodies the custom adapter failed on with a 503 adapter_error (so the
    sender retried, forever, a delivery that could never succeed): 400 malformed now."""
    response = custom.deliver(custom.app_id, body,
                              {"X-Signature-256": custom.sign(FUZZ_SECRET, body)})
    check(f"fixed bug custom adapter [{custom.db}]", response)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "malformed"
