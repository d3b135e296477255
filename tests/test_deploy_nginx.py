"""Deployment smoke test: the real nginx of ``deploy/nginx.conf`` in front of a real gunicorn.

nginx runs with the production file, changed only where a test must: its listen ports (loopback,
free ports), the upstream (the test's gunicorn), the certificate (a throw-away self-signed one)
and its log, pid and temporary paths (the test's directory). gunicorn runs as
``make_server`` starts it, with ``ORQO_PROXY_COUNT=1`` as docs/deploy.md says for one nginx.
Everything listens on 127.0.0.1 and every wait is bounded.

``.ci/run`` installs nginx from Debian's packages, so in CI this test runs; elsewhere it is
skipped when ``/usr/sbin/nginx`` (or ``openssl``, for the certificate) is missing.

Not tested, on purpose: a request sent straight to gunicorn. With ``PROXY_COUNT=1`` orqo
believes the last ``X-Forwarded-For`` value of any request, so a client that reaches gunicorn
directly chooses the address recorded; that is why gunicorn must listen only where nothing but
nginx reaches it (docs/deploy.md).
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
from pathlib import Path

import pytest
import requests

from orqo.testing.server import free_port
from orqo.testing.signers import hmac_headers

NGINX = "/usr/sbin/nginx"
CONF = Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf"
SECRET = "s3cret-behind-nginx"
FORGED = "203.0.113.9"
LIMIT = 4 * 1024 * 1024  # MAX_CONTENT_LENGTH's default and client_max_body_size 4m
# gunicorn's access log as in gunicorn.conf.py, plus the X-Forwarded-For header it received.
GUNICORN_ACCESS_FORMAT = '%(h)s "%(r)s" %(s)s xff="%({x-forwarded-for}i)s"'

pytestmark = [
    pytest.mark.skipif(not os.path.exists(NGINX),
                       reason=f"{NGINX} is not installed (.ci/run installs it: apt-get install "
                              "nginx-light)"),
    pytest.mark.skipif(shutil.which("openssl") is None,
                       reason="openssl is needed for the test's self-signed certificate"),
]


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced by ``new``; ``old`` must occur exactly once, so that a
    change to deploy/nginx.conf fails here loudly instead of testing something else."""
    assert text.count(old) == 1, f"deploy/nginx.conf should contain {old!r} exactly once"
    return text.replace(old, new)


class Nginx:
    """nginx running deploy/nginx.conf, in the foreground, from a directory of its own."""

    def __init__(self, directory: Path, upstream_port: int):
        self.dir = directory
        self.dir.mkdir()
        self.https_port, self.http_port = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.https_port}"
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.cert, self.key = self.dir / "cert.pem", self.dir / "key.pem"
        self.access_log = self.dir / "orqo.access.log"
        self.error_log = self.dir / "error.log"
        self.process = None
        self._output = None
        self._make_certificate()
        self.site = self.dir / "orqo.conf"
        self.site.write_text(self._site(upstream_port))
        self.main = self.dir / "nginx.conf"
        self.main.write_text(self._main())

    def _make_certificate(self) -> None:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(self.key), "-out", str(self.cert)],
            check=True, capture_output=True, timeout=30)

    def _site(self, upstream_port: int) -> str:
        text = CONF.read_text()
        for old, new in [
            ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};"),
            ("    listen 80;\n", f"    listen 127.0.0.1:{self.http_port};\n"),
            ("    listen [::]:80;\n", ""),
            ("    listen 443 ssl;\n", f"    listen 127.0.0.1:{self.https_port} ssl;\n"),
            ("    listen [::]:443 ssl;\n", ""),
            ("/etc/letsencrypt/live/orqo.example.com/fullchain.pem", str(self.cert)),
            ("/etc/letsencrypt/live/orqo.example.com/privkey.pem", str(self.key)),
        ]:
            text = replace_once(text, old, new)
        assert text.count("/var/log/nginx/orqo.access.log") == 2
        return text.replace("/var/log/nginx/orqo.access.log", str(self.access_log))

    def _main(self) -> str:
        """What /etc/nginx/nginx.conf provides around the file, with the test's own paths."""
        temp = {name: self.dir / name for name in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                   "scgi")}
        # Run as root (CI does), nginx would start its workers as "nobody", who cannot enter
        # pytest's 0700 temporary directories; the production file itself needs no `user`.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return (
            "daemon off;\n"
            "worker_processes 1;\n"
            f"{user}"
            f"pid {self.dir / 'nginx.pid'};\n"
            f"error_log {self.error_log} info;\n"
            "events { worker_connections 128; }\n"
            "http {\n"
            + "".join(f"    {name}_temp_path {path};\n" for name, path in temp.items())
            + f"    include {self.site};\n"
            "}\n"
        )

    def start(self, timeout: float = 15.0) -> Nginx:
        """Check the configuration, start nginx, and wait until it answers on both ports."""
        command = [NGINX, "-p", str(self.dir), "-c", str(self.main)]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"nginx -t failed:\n{check.stderr}"
        self._output = open(self.dir / "nginx.out", "ab")
        self.process = subprocess.Popen(command, stdout=self._output, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited:\n{self.logs()}")
            if all(self._listening(port) for port in (self.https_port, self.http_port)):
                return self
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"nginx did not listen within {timeout}s:\n{self.logs()}")

    @staticmethod
    def _listening(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Fast shutdown (TERM) of the master and its workers; KILL the group after 10 s."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self._output:
            self._output.close()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 15)
        return requests.request(method, self.url + path, verify=str(self.cert), **kwargs)

    def raw_post(self, path: str, body: bytes) -> int:
        """POST ``path`` exactly as written (requests would decode escapes such as ``%68``)."""
        context = ssl.create_default_context(cafile=str(self.cert))
        connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=15,
                                                 context=context)
        try:
            connection.request("POST", path, body=body,
                               headers={"Content-Type": "application/json"})
            return connection.getresponse().status
        finally:
            connection.close()

    def access_lines(self) -> list[dict]:
        """The access log, parsed (one JSON object per line: the `orqo` log_format)."""
        text = self.access_log.read_text() if self.access_log.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def wait_for_access_lines(self, predicate, count: int = 1) -> list[dict]:
        """The access-log lines matching ``predicate``, once there are ``count`` of them. nginx
        writes a request's line when it is done with it, which can be just after the client
        has its answer (after draining a refused body, for one)."""
        lines = wait_until(lambda: [line for line in self.access_lines() if predicate(line)],
                           lambda found: len(found) >= count)
        assert len(lines) >= count, f"nginx's access log:\n{self.access_log.read_text()}"
        return lines

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")
                         for path in (self.dir / "nginx.out", self.error_log) if path.exists())


@pytest.fixture
def make_nginx(tmp_path):
    """Factory: ``make_nginx(server)`` starts nginx in front of an OrqoServer; stopped after."""
    started = []

    def factory(server) -> Nginx:
        nginx = Nginx(tmp_path / f"nginx-{len(started)}", server.port)
        started.append(nginx)
        return nginx.start()

    yield factory
    for nginx in started:
        nginx.stop()


def wait_until(get, ready, timeout: float = 10.0):
    """``get()`` once ``ready(get())`` holds, or its last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    value = get()
    while not ready(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = get()
    return value


def signed_post(nginx: Nginx, path: str, body: bytes, headers=None) -> requests.Response:
    return nginx.request("POST", path, data=body, headers={
        "Content-Type": "application/json", **hmac_headers(SECRET, body), **(headers or {})})


def message(msg_id: str, text: str = "hello", sender: str = "ada") -> bytes:
    return json.dumps({"id": msg_id, "sender": sender, "text": text}).encode()


def test_orqo_behind_nginx(make_server, make_nginx):
    server = make_server(env={"ORQO_PROXY_COUNT": "1",
                              "GUNICORN_CMD_ARGS": f"--access-logformat '{GUNICORN_ACCESS_FORMAT}'"})
    nginx = make_nginx(server)
    app = server.cli_json("apps", "create", "--name", "demo", "--adapter", "custom",
                          "--credential", f"signing_secret={SECRET}")
    server.cli_json("contacts", "create", "--name", "Ada", "--channel", f"{app['id']}=ada")

    def ledger():
        return server.cli_json("events", "list", "--json", "--limit", "1000")

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

    # X-Forwarded-Proto and -Host reach orqo: its redirects name nginx's scheme and host, not
    # gunicorn's http://127.0.0.1:<port>.
    merged = nginx.request("GET", "/api/v1//openapi.json", allow_redirects=False)
    assert merged.status_code == 308
    assert merged.headers["Location"] == "https://127.0.0.1/api/v1/openapi.json"

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
    assert len(server.cli_json("runs", "list")) == 1
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
