"""Deployment smoke test: the real nginx of ``deploy/nginx.conf`` in front of a real gunicorn.

nginx runs with the production file, changed only where a test must (tests/nginx_harness.py):
its listen ports (loopback, free ports), the upstream (the test's gunicorn), the certificate (a
throw-away self-signed one) and its log, pid and temporary paths (the test's directory).
gunicorn runs as ``make_server`` starts it, with ``ORQO_PROXY_COUNT=1`` as docs/deploy.md says
for one nginx. Everything listens on 127.0.0.1 and every wait is bounded.

``.ci/run`` installs nginx from Debian's packages, so in CI this test runs; elsewhere it is
skipped when ``/usr/sbin/nginx`` (or ``openssl``, for the certificate) is missing.

Not tested, on purpose: a request sent straight to gunicorn. With ``PROXY_COUNT=1`` orqo
believes the last ``X-Forwarded-For`` value of any request, so a client that reaches gunicorn
directly chooses the address recorded; that is why gunicorn must listen only where nothing but
nginx reaches it (docs/deploy.md).
"""
from __future__ import annotations

import json
import urllib.parse

import requests

from orqo.testing.signers import hmac_headers
from tests.nginx_harness import REQUIRES_NGINX
from tests.nginx_harness import Nginx
from tests.nginx_harness import make_nginx  # noqa: F401 (a fixture)
from tests.nginx_harness import wait_until

SECRET = "s3cret-behind-nginx"
FORGED = "203.0.113.9"
LIMIT = 4 * 1024 * 1024  # MAX_CONTENT_LENGTH's default and client_max_body_size 4m
# gunicorn's access log as in gunicorn.conf.py, plus the X-Forwarded-For header it received.
GUNICORN_ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s xff="%({x-forwarded-for}i)s"'

pytestmark = REQUIRES_NGINX


def signed_post(nginx: Nginx, path: str, body: bytes, headers=None) -> requests.Response:
    """POST ``body`` to ``path`` through nginx, signed with the App's secret."""
    return nginx.request("POST", path, data=body, headers={
        "Content-Type": "application/json", **hmac_headers(SECRET, body), **(headers or {})})


def message(msg_id: str, text: str = "hello", sender: str = "ada") -> bytes:
    """A custom-adapter delivery of one message."""
    return json.dumps({"id": msg_id, "sender": sender, "text": text}).encode()


def test_orqo_behind_nginx(make_server, make_nginx):
    server = make_server(env={"ORQO_PROXY_COUNT": "1",
                              "GUNICORN_CMD_ARGS": f"--access-logformat '{GUNICORN_ACCESS_FORMAT}'"})
    nginx = make_nginx(server)
    app = server.cli_json("apps", "create", "--name", "demo", "--adapter", "custom",
                          "--credential", f"signing_secret={SECRET}")
    server.cli_json("contacts", "create", "--name", "Ada", "--channel", f"{app['id']}=ada")

    def ledger():
        return server.cli_json("deliveries", "list", "--json", "--limit", "200")

    # Health through nginx, and plain HTTP only redirects to HTTPS.
    assert nginx.request("GET", "/healthz").json() == {"status": "ok"}
    assert nginx.request("GET", "/readyz").json()["status"] == "ready"
    assert nginx.request("GET", "/metrics").status_code == 200  # loopback may read it
    redirect = requests.get(nginx.http_url + "/healthz", allow_redirects=False, timeout=10)
    assert redirect.status_code == 301
    assert redirect.headers["Location"] == "https://127.0.0.1/healthz"

    # Signed deliveries are routed; the address recorded is what nginx saw, not what the client
    # wrote in X-Forwarded-For.
    first = signed_post(nginx, app["webhook_path"], message("m1"))
    assert first.status_code == 200, first.text
    assert first.json()["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    forged = signed_post(nginx, app["webhook_path"], message("m2"),
                         headers={"X-Forwarded-For": FORGED})
    assert forged.status_code == 200, forged.text
    assert forged.json()["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    bad_signature = nginx.request("POST", app["webhook_path"], data=message("m3"), headers={
        "X-Signature-256": "sha256=" + "0" * 64, "X-Forwarded-For": FORGED})
    assert bad_signature.status_code == 401
    events = ledger()
    assert [e["outcome"] for e in events] == ["rejected_signature", "accepted", "accepted"]
    assert [e["client_address"] for e in events] == ["127.0.0.1"] * 3
    # nginx overwrote the forged header: gunicorn received nginx's view only.
    forwarded = wait_until(
        lambda: [line for line in server.log().splitlines() if app["webhook_path"] in line],
        lambda lines: len(lines) >= 3)
    assert len(forwarded) == 3 and all('xff="127.0.0.1"' in line for line in forwarded)
    assert FORGED not in server.log()

    # orqo's request id is nginx's $request_id: the response's X-Request-ID (also in orqo's own
    # log lines) is the id in nginx's access log.
    request_id = first.headers["X-Request-ID"]
    assert len(request_id) == 32
    nginx.wait_for_access_lines(lambda line: line["request_id"] == request_id)

    # A doubled slash is not redirected (a 308 that clients followed put tokens in the access
    # log, issue 15): it is orqo's JSON 404 through nginx too.
    merged = nginx.request("GET", "/api/v1//openapi.json", allow_redirects=False)
    assert merged.status_code == 404
    assert merged.json()["error"]["code"] == "not_found"

    # nginx is the limit on line lengths: a request line or header line of 8188 bytes (8190
    # with CRLF) reaches orqo, one byte more is refused by nginx, in orqo's error shape.
    long_path = "/healthz?pad=" + "x" * (8188 - len("GET /healthz?pad= HTTP/1.1"))
    assert nginx.request("GET", long_path).json() == {"status": "ok"}
    too_long = nginx.request("GET", long_path + "x")
    assert too_long.status_code == 414
    assert too_long.json()["error"]["code"] == "request_uri_too_large"
    long_header = {"X-Padding": "y" * (8188 - len("X-Padding: "))}
    assert nginx.request("GET", "/healthz", headers=long_header).json() == {"status": "ok"}
    long_header["X-Padding"] += "y"
    too_long = nginx.request("GET", "/healthz", headers=long_header)
    assert too_long.status_code == 431
    assert too_long.json()["error"]["code"] == "request_header_fields_too_large"

    # Bodies: exactly 4 MiB reaches orqo and is routed; one byte more is refused by nginx,
    # in orqo's error shape, and never reaches orqo's ledger.
    padding = LIMIT - len(message("big", ""))
    at_limit = message("big", "x" * padding)
    assert len(at_limit) == LIMIT
    accepted = signed_post(nginx, app["webhook_path"], at_limit)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    too_large = signed_post(nginx, app["webhook_path"], at_limit + b" ")
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "request_entity_too_large"
    [refused] = nginx.wait_for_access_lines(lambda line: line["status"] == 413)
    assert refused["upstream_status"] == ""  # nginx answered; gunicorn never saw it
    assert '" 413 ' not in server.log()
    assert len(ledger()) == 4

    # Credentials in URLs stay out of both access logs: a token URL, and Meta's verify token.
    workflow = server.cli_json("workflows", "create", "--name", "w")
    trigger = server.cli_json("triggers", "create", str(workflow["id"]))
    token = trigger["url_path"].rsplit("/", 1)[1]
    started = nginx.request("POST", trigger["url_path"], json={"event": "deploy"})
    assert started.status_code == 201, started.text
    verify_token = "verify-token-that-must-not-be-logged"
    query = urllib.parse.urlencode({"hub.mode": "subscribe", "hub.challenge": "123",
                                    "hub.verify_token": verify_token})
    nginx.request("GET", f"{app['webhook_path']}?{query}")
    assert len(server.cli_json("runs", "list", "--json")) == 1
    nginx.wait_for_access_lines(lambda line: line["uri"] == "/api/v1/hooks/[redacted]")
    nginx.wait_for_access_lines(lambda line: line["uri"] == f"{app['webhook_path']}?[redacted]")
    nginx_log = nginx.access_log.read_text()
    assert token not in nginx_log and verify_token not in nginx_log
    assert token not in server.log() and verify_token not in server.log()

    # nginx decides on the decoded path, so a token URL spelled with percent-escapes is
    # redacted from its log too (a second trigger: only nginx's log is checked for this one).
    other = server.cli_json("triggers", "create", str(workflow["id"]))
    other_token = other["url_path"].rsplit("/", 1)[1]
    assert nginx.raw_post("/api/v1/%68ooks/" + other_token, b"{}") == 201
    nginx.wait_for_access_lines(lambda line: line["uri"] == "/api/v1/hooks/[redacted]", count=2)
    assert other_token not in nginx.access_log.read_text()

    # gunicorn down: nginx answers 502 in orqo's error shape, with Retry-After.
    server.stop()
    down = nginx.request("POST", app["webhook_path"], data=message("m4"))
    assert down.status_code == 502
    assert down.headers["Retry-After"] == "5"
    assert down.json()["error"]["code"] == "bad_gateway"
