"""Issue 15, the server's part: settings checked at start-up, one-line CLI errors, gunicorn's
own answers and access log, nginx's limits. Real gunicorn, nginx and ``orqo`` processes where
only they show it; everything on 127.0.0.1, every wait bounded.
"""
from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

import orqo_custom
import pytest
from click.testing import CliRunner

from orqo import create_app
from orqo.cli import main
from orqo.config import DEFAULTS
from orqo.config import RULES
from orqo.config import InvalidSetting
from orqo.testing.server import CHECKOUT
from orqo.testing.server import OrqoServer
from orqo.testing.server import free_port
from tests.nginx_harness import REQUIRES_NGINX
from tests.nginx_harness import Nginx
from tests.nginx_harness import replace_once
from tests.nginx_harness import wait_until

BIN = Path(sys.executable).parent
SECRET = "a-signing-secret-never-printed"

# (environment variable, value, the one line orqo refuses to start with)
INVALID_SETTINGS = [
    ("ORQO_SENDER_RATE_LIMIT", "lots", "ORQO_SENDER_RATE_LIMIT must be an integer ≥ 0, got 'lots'"),
    ("ORQO_TRIGGER_RATE_LIMIT", "lots",
     "ORQO_TRIGGER_RATE_LIMIT must be an integer ≥ 0, got 'lots'"),
    ("ORQO_PUSH_MAX_ATTEMPTS", "abc", "ORQO_PUSH_MAX_ATTEMPTS must be an integer ≥ 1, got 'abc'"),
    ("ORQO_SENDER_RATE_LIMIT", "-1", "ORQO_SENDER_RATE_LIMIT must be an integer ≥ 0, got -1"),
    ("ORQO_TRIGGER_RATE_LIMIT", "2.5",
     "ORQO_TRIGGER_RATE_LIMIT must be an integer ≥ 0, got 2.5"),
    ("ORQO_PUSH_TIMEOUT", "0", "ORQO_PUSH_TIMEOUT must be a number > 0, got 0"),
    ("ORQO_PUSH_TIMEOUT", "1e999", "ORQO_PUSH_TIMEOUT must be a number > 0, got inf"),
    ("ORQO_SENDER_RATE_LIMIT", "9" * 30,  # more than a database column holds
     f"ORQO_SENDER_RATE_LIMIT must be an integer ≥ 0, got {'9' * 30}"),
    ("ORQO_MAX_CONTENT_LENGTH", "true",
     "ORQO_MAX_CONTENT_LENGTH must be an integer ≥ 1, got True"),
    ("ORQO_REJECTION_WINDOW_SECONDS", "59",
     "ORQO_REJECTION_WINDOW_SECONDS must be an integer ≥ 60, got 59"),
    ("ORQO_REJECTION_SOURCES", "0", "ORQO_REJECTION_SOURCES must be an integer ≥ 1, got 0"),
    ("ORQO_LOAD_ENTRYPOINTS", "maybe", "ORQO_LOAD_ENTRYPOINTS must be true or false, got 'maybe'"),
    ("ORQO_SQLITE_SYNCHRONOUS", "OFF",
     "ORQO_SQLITE_SYNCHRONOUS must be one of NORMAL, FULL, got 'OFF'"),
    ("ORQO_LOG_LEVEL", "loud",
     "ORQO_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'"),
    # Retention settings another branch adds to DEFAULTS: checked whenever they are set.
    ("ORQO_RETENTION_LEDGER_DAYS", "-1",
     "ORQO_RETENTION_LEDGER_DAYS must be an integer ≥ 0, got -1"),
    ("ORQO_PRUNE_INTERVAL_SECONDS", "-1", "ORQO_PRUNE_INTERVAL_SECONDS must be a number ≥ 0, got -1"),
]


def orqo_env(tmp_path, **settings) -> dict[str, str]:
    """The environment of an ``orqo`` or gunicorn process: this one's, an instance folder of
    the test's own, no database setting unless given, and ``settings``."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("ORQO_") or key == "ORQO_TEST_DATABASE_URL"}
    env["ORQO_INSTANCE_PATH"] = str(tmp_path / "instance")
    env.update(settings)
    return env


def run_orqo(env, *args) -> subprocess.CompletedProcess:
    """The ``orqo`` console script, as a user runs it."""
    return subprocess.run([str(BIN / "orqo"), *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=CHECKOUT)


def one_error_line(text: str) -> dict:
    """The single line ``text`` must be, parsed as orqo's JSON error shape."""
    lines = text.splitlines()
    assert len(lines) == 1, text
    error = json.loads(lines[0])["error"]
    assert set(error) == {"code", "message", "details"}
    return error


# --- Settings ---------------------------------------------------------------------------------

@pytest.mark.parametrize("variable, value, line", INVALID_SETTINGS)
def test_an_invalid_setting_stops_create_app_naming_the_variable(
        tmp_path, monkeypatch, variable, value, line):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSetting) as refused:
        create_app()  # refused before any plugin is loaded
    assert str(refused.value) == line


def test_every_setting_has_a_rule_and_the_defaults_obey_them(tmp_path, monkeypatch):
    assert set(DEFAULTS) <= set(RULES)
    for key, value in DEFAULTS.items():
        assert RULES[key].allows(value), key
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "config.py").write_text("SENDER_RATE_LIMIT = 'lots'\n")
    with pytest.raises(InvalidSetting, match="^SENDER_RATE_LIMIT must be an integer ≥ 0"):
        create_app({"LOAD_ENTRYPOINTS": False})  # instance/config.py: named by its key
    with pytest.raises(InvalidSetting, match="^PUSH_MAX_ATTEMPTS must be an integer ≥ 1"):
        create_app({"LOAD_ENTRYPOINTS": False, "SENDER_RATE_LIMIT": 0, "PUSH_MAX_ATTEMPTS": 0})


def test_every_rule_is_documented():
    page = (CHECKOUT / "docs" / "configuration.md").read_text()
    for key, rule in RULES.items():
        assert f"| `{key}` | {rule.describe()} |" in page, key


def test_valid_settings_from_the_environment_still_start(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    for variable, value in [("ORQO_SENDER_RATE_LIMIT", "0"), ("ORQO_PUSH_TIMEOUT", "2.5"),
                            ("ORQO_LOAD_ENTRYPOINTS", "false"), ("ORQO_LOG_FORMAT", "text"),
                            ("ORQO_SQLITE_SYNCHRONOUS", "full"), ("ORQO_DISABLED_PLUGINS", "a,b"),
                            ("ORQO_RETENTION_LEDGER_DAYS", "0")]:
        monkeypatch.setenv(variable, value)
    assert create_app().config["PUSH_TIMEOUT"] == 2.5


def test_the_cli_refuses_invalid_settings_in_one_line(tmp_path):
    env = orqo_env(tmp_path, ORQO_SENDER_RATE_LIMIT="lots")
    for args in (["apps", "list"], ["init-db"], ["db", "current"]):
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 1, result.output
        error = one_error_line(result.stderr)
        assert error["code"] == "invalid_setting"
        assert error["message"] == "ORQO_SENDER_RATE_LIMIT must be an integer ≥ 0, got 'lots'"
        assert error["details"] == {"setting": "ORQO_SENDER_RATE_LIMIT"}
    helped = CliRunner().invoke(main, ["--help"], env=env)  # the help still shows
    assert helped.exit_code == 0 and "Usage: orqo" in helped.stdout
    assert one_error_line(helped.stderr)["code"] == "invalid_setting"


def test_gunicorn_refuses_invalid_settings_with_one_line(tmp_path):
    env = orqo_env(tmp_path, ORQO_PUSH_MAX_ATTEMPTS="abc")
    started = time.monotonic()
    result = subprocess.run(
        [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "--bind",
         f"127.0.0.1:{free_port()}", "--workers", "1", "wsgi:app"],
        cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "orqo: ORQO_PUSH_MAX_ATTEMPTS must be an integer ≥ 1, got 'abc'\n" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "Booting worker" not in result.stderr  # the master refused before any worker
    assert time.monotonic() - started < 30


# --- The command line's errors ----------------------------------------------------------------

def test_commands_before_init_db_fail_in_one_line_without_the_secret(make_app):
    runner = make_app(plugins=[orqo_custom], create_tables=False).test_cli_runner()
    for args in (["apps", "create", "--name", "demo", "--adapter", "custom", "--credential",
                  f"signing_secret={SECRET}"],
                 ["apps", "list"], ["deliveries", "list"], ["tokens", "list"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, result.output
        error = one_error_line(result.stderr)
        assert error["code"] == "database_not_initialised", error
        assert "orqo init-db" in error["message"]
        assert SECRET not in result.output and "INSERT" not in result.output


def test_a_refused_command_is_one_line(runner):
    result = runner.invoke(args=["apps", "create", "--name", "X", "--adapter", "nope"])
    assert result.exit_code == 1
    assert one_error_line(result.stderr)["code"] == "validation_error"


def test_the_real_orqo_before_init_db_is_one_line(tmp_path):
    env = orqo_env(tmp_path)
    (tmp_path / "instance").mkdir()
    (tmp_path / "instance" / "orqo.sqlite3").write_bytes(b"")  # an empty SQLite file
    created = run_orqo(env, "apps", "create", "--name", "demo", "--adapter", "custom",
                       "--credential", f"signing_secret={SECRET}")
    assert created.returncode == 1
    assert one_error_line(created.stderr)["code"] == "database_not_initialised"
    assert created.stdout == "" and SECRET not in created.stderr
    assert run_orqo(env, "init-db").returncode == 0
    assert run_orqo(env, "apps", "list", "--json").stdout.strip() == "[]"


def test_the_real_orqo_against_a_missing_postgresql_database_is_one_line(tmp_path):
    base = os.environ.get("ORQO_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    parts = urlsplit(base)
    assert parts.hostname in ("127.0.0.1", "::1", "localhost")
    missing = urlunsplit(parts._replace(path="/orqo_no_such_database"))
    env = orqo_env(tmp_path, ORQO_DATABASE_URL=missing, ORQO_DATABASE_CONNECT_TIMEOUT="2")
    for args in (["init-db"], ["apps", "list"], ["apps", "create", "--name", "d", "--adapter",
                                                 "custom", "--credential",
                                                 f"signing_secret={SECRET}"]):
        result = run_orqo(env, *args)
        assert result.returncode == 1, result.stderr
        error = one_error_line(result.stderr)
        assert error["code"] == "database_unavailable", error
        assert SECRET not in result.stderr and "Traceback" not in result.stderr


# --- gunicorn's own answers and chunked bodies (#6) -------------------------------------------

def exchange(server: OrqoServer, request: bytes, half_close: bool = True) -> tuple[int, dict, bytes]:
    """Send ``request`` as it is on one connection to ``server``; its status, headers and body.

    With ``half_close`` the client then ends its side, so a body cut short is seen to end."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as connection:
        connection.sendall(request)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip()
               for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def json_error(headers: dict, body: bytes) -> dict:
    """The error of an answer in orqo's JSON error shape, with nosniff."""
    assert headers["content-type"] == "application/json", (headers, body)
    assert headers["x-content-type-options"] == "nosniff"
    error = json.loads(body)["error"]
    assert set(error) == {"code", "message", "details"}
    return error


BROKEN_CHUNKED_BODIES = {
    "size not hexadecimal": b"zz\r\nhello\r\n0\r\n\r\n",
    "chunk longer than its size": b"5\r\nhelloXX\r\n0\r\n\r\n",
    "body ends inside a chunk": b"a\r\nabc",
    "body ends before the last chunk": b"5\r\nhello\r\n",
}


def test_a_broken_chunked_body_is_a_json_400_on_every_path(make_server):
    server = make_server(workers=1)
    tried = 0
    for path in ("/healthz", "/readyz", "/api/v1/webhooks/NoSuchApp0000000", "/api/v1/hooks/x",
                 "/api/v1/apps", "/no/such/path"):
        for name, body in BROKEN_CHUNKED_BODIES.items():
            status, headers, answer = exchange(server, (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode() + body)
            assert status == 400, (path, name, answer)
            assert json_error(headers, answer)["code"] == "invalid_chunked_body"
            tried += 1
    assert tried == 24
    log = server.log()
    assert "Traceback" not in log and '" 500 ' not in log


def test_gunicorns_own_refusals_are_json(make_server):
    server = make_server(workers=1)
    cases = [
        (b"NOT A REQUEST LINE\r\n\r\n", 400, "bad_request"),
        (b"GET /healthz?" + b"x" * 8200 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414,
         "request_uri_too_large"),
        (b"GET /healthz HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"y" * 8200 + b"\r\n\r\n", 431,
         "request_header_fields_too_large"),
        (b"GET /healthz HTTP/1.1\r\nHost: a\r\n"
         + b"".join(b"X-H%d: 1\r\n" % i for i in range(101)) + b"\r\n", 431,
         "request_header_fields_too_large"),
    ]
    for request, expected_status, code in cases:
        status, headers, body = exchange(server, request)
        assert status == expected_status, body
        assert json_error(headers, body)["code"] == code
    # The bounds themselves still pass: a request line and a header line of 8190 bytes with
    # their CRLF, as many header lines as nginx may add to a client's 90.
    line = b"GET /healthz?p=" + b"x" * (8188 - len(b"GET /healthz?p= HTTP/1.1")) + b" HTTP/1.1"
    assert len(line) == 8188
    assert exchange(server, line + b"\r\nHost: a\r\n\r\n")[0] == 200
    header = b"X-Pad: " + b"y" * (8188 - len(b"X-Pad: "))
    assert exchange(server, b"GET /healthz HTTP/1.1\r\nHost: a\r\n" + header + b"\r\n\r\n")[0] == 200
    assert "Traceback" not in server.log()


# --- Tokens out of gunicorn's access log, and no redirect (#10) -------------------------------

def raw_request(server: OrqoServer, method: str, target: str, body: bytes = b"") -> int:
    """``method target`` sent exactly as written (no client normalises it); the status."""
    status, _, _ = exchange(server, (
        f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n").encode() + body, half_close=False)
    return status


def test_tokens_never_reach_gunicorns_log_however_the_path_is_spelled(make_server):
    server = make_server(workers=1)
    workflow = server.cli_json("workflows", "create", "--name", "w")
    hook = server.cli_json("triggers", "create", str(workflow["id"]))["url_path"]
    token = hook.rsplit("/", 1)[1]
    api_token = server.cli_json("tokens", "create", "--name", "t", "--scope", "admin")["token"]
    tried = [
        ("POST", hook, 201),                                    # the token URL itself
        ("POST", hook.replace("/hooks/", "//hooks/"), 404),     # was a 308 clients follow
        ("POST", hook.replace("/api/v1/", "/api/v1//"), 404),
        ("POST", hook.replace("/api/", "//api/"), 201),        # gunicorn reads a leading // as /
        ("POST", hook.replace("/hooks/", "/./hooks/"), 404),
        ("POST", hook.replace("/hooks/", "/%68ooks/"), 201),    # werkzeug decodes, routes it
        ("POST", hook.replace("/hooks/", "/hooks//"), 404),
        ("POST", f"{hook}?access_token={api_token}", 201),
        ("GET", f"/api/v1/apps?access_token={api_token}", 401),
        ("GET", f"/api/v1/apps?x=1&access_token={api_token}", 401),
        ("GET", f"/healthz?q={api_token}", 200),                # an orqo_ token anywhere
        ("GET", f"/no/such/{api_token}", 404),
    ]
    for method, target, expected in tried:
        assert raw_request(server, method, target, b"{}" if method == "POST" else b"") == \
            expected, target
    log = wait_for_lines(server, "[redacted]", len(tried))
    assert token not in log and api_token not in log
    assert api_token.removeprefix("orqo_")[:20] not in log
    assert '" 308 ' not in log


def wait_for_lines(server: OrqoServer, text: str, count: int, timeout: float = 10.0) -> str:
    """gunicorn's log, once ``text`` is in ``count`` of its lines (an access-log line is
    written just after its answer is sent)."""
    deadline = time.monotonic() + timeout
    log = server.log()
    while sum(text in line for line in log.splitlines()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
        log = server.log()
    assert sum(text in line for line in log.splitlines()) >= count, log[-4000:]
    return log


def test_every_path_answers_errors_in_json_with_nosniff(client):
    for method, path, status in [("POST", "/api/v1//hooks/abc", 404),
                                 ("GET", "/api/v1//openapi.json", 404),
                                 ("GET", "//healthz", 404), ("GET", "/", 404),
                                 ("GET", "/static/app.js", 404), ("POST", "/healthz", 405),
                                 ("GET", "/api/v1/apps", 401)]:
        response = client.open(path, method=method)
        assert response.status_code == status, path
        assert response.is_json and set(response.json["error"]) == {"code", "message", "details"}
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/healthz").headers["X-Content-Type-Options"] == "nosniff"


# --- nginx's limits on the webhook paths ------------------------------------------------------

class LimitedNginx(Nginx):
    """deploy/nginx.conf with its webhook limits made small enough to reach in a test; every
    other line as in production."""

    limits: list[tuple[str, str]] = []

    def _site(self, upstream_ports):
        text = super()._site(upstream_ports)
        for old, new in self.limits:
            text = replace_once(text, old, new)
        return text


def start_nginx(tmp_path, server, name, limits) -> Nginx:
    """nginx in front of ``server`` with ``limits`` (texts of deploy/nginx.conf replaced)."""
    nginx_class = type(f"Nginx_{name}", (LimitedNginx,), {"limits": limits})
    return nginx_class(tmp_path / name, [server.port]).start()


@REQUIRES_NGINX[0]
@REQUIRES_NGINX[1]
def test_nginx_limits_the_webhook_paths_with_json_answers(make_server, tmp_path):
    server = make_server(workers=1, env={"ORQO_PROXY_COUNT": "1"})
    webhook = "/api/v1/webhooks/NoSuchApp0000000"
    rate = start_nginx(tmp_path, server, "rate", [("rate=1000r/s", "rate=1r/m"),
                                                  ("burst=5000 nodelay", "burst=2 nodelay")])
    busy = None
    try:
        proxied = rate.request("GET", "/healthz")
        assert proxied.headers["Strict-Transport-Security"] == "max-age=31536000"
        assert [rate.request("POST", webhook, data=b"{}").status_code
                for _ in range(3)] == [404] * 3  # one, and a burst of two
        for path in (webhook, "/api/v1/hooks/some-token", "/api/v1//hooks/some-token"):
            refused = rate.request("POST", path, data=b"{}")
            assert refused.status_code == 429, path
            assert refused.headers["Retry-After"] == "1"
            assert refused.headers["X-Content-Type-Options"] == "nosniff"
            assert refused.headers["Strict-Transport-Security"] == "max-age=31536000"
            assert refused.json()["error"]["code"] == "too_many_requests"
        assert rate.request("GET", "/healthz").status_code == 200  # other paths: no limit
        lines = rate.wait_for_access_lines(lambda line: line["status"] == 429, count=3)
        assert all(line["upstream_status"] == "" for line in lines)  # orqo never saw them

        busy = start_nginx(tmp_path, server, "connections",
                           [("limit_conn orqo_webhook_connections 100;",
                             "limit_conn orqo_webhook_connections 1;")])
        context = ssl.create_default_context(cafile=str(busy.cert))
        with socket.create_connection(("127.0.0.1", busy.https_port), timeout=15) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as held:
            # A request whose body is still on its way holds its connection slot.
            held.sendall(f"POST {webhook} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Content-Length: 100\r\n\r\n{".encode())
            second = wait_until(lambda: busy.request("POST", webhook, data=b"{}"),
                                lambda response: response.status_code == 503)
            assert second.status_code == 503
            assert second.headers["Retry-After"] == "1"
            assert second.json()["error"]["code"] == "too_many_connections"
        after = wait_until(lambda: busy.request("POST", webhook, data=b"{}"),
                           lambda response: response.status_code == 404)
        assert after.status_code == 404  # the slot is free again once that request is gone
    finally:
        rate.stop()
        if busy:
            busy.stop()
