"""Remote adapters with real processes: orqo (gunicorn) with a remote App pointing at
``orqo adapter-serve PLATFORM``, compared with an in-process App of the same adapter.

The same signed deliveries (valid, forged, duplicate, unknown sender, malformed, and the
handshake where the platform has one) must give the same answers and the same ledger outcomes.
The custom adapter always runs; Slack runs when the orqo-slack plugin is installed.
"""
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import requests

from orqo.adapter_server import installed_adapters
from orqo.testing.conformance import make_stage_request
from orqo.testing.server import CHECKOUT
from orqo.testing.server import free_port
from orqo.testing.signers import hmac_headers
from orqo.testing.signers import slack_headers


class AdapterServer:
    """``orqo adapter-serve PLATFORM`` on a loopback port, as a subprocess."""

    def __init__(self, platform: str, workdir: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"adapter-{platform}.log"
        env = {**os.environ, "ORQO_INSTANCE_PATH": str(workdir / "adapter-instance")}
        env.pop("ORQO_DATABASE_URL", None)
        orqo = Path(sys.executable).with_name("orqo")
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(orqo), "adapter-serve", platform, "--host", "127.0.0.1", "--port",
             str(self.port), "--workers", "1"],
            cwd=CHECKOUT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"adapter-serve exited:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"adapter-serve did not answer:\n{self.log()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def serve_adapter(tmp_path):
    """Factory: ``serve_adapter(platform)`` starts an adapter server, stopped after the test."""
    started = []

    def factory(platform):
        started.append(AdapterServer(platform, tmp_path))
        return started[-1]

    yield factory
    for server in started:
        server.stop()


@dataclass
class Case:
    """One adapter's deliveries, signed as its platform signs them."""

    platform: str
    credentials: dict

    def body(self, message_id: str, sender: str, text: str) -> bytes:
        raise NotImplementedError

    def sign(self, body: bytes) -> dict:
        raise NotImplementedError

    def forge(self, body: bytes) -> dict:
        raise NotImplementedError

    def challenge(self) -> bytes | None:
        return None

    def sender_id(self, raw_sender: str) -> str:
        """The sender id the installed adapter gives a message from ``raw_sender``."""
        adapter = installed_adapters()[1][self.platform]
        credentials, config = adapter.validate_settings(self.credentials, {})
        body = self.body("probe", raw_sender, "probe")
        request = make_stage_request("probe", self.platform, body, self.sign(body),
                                     credentials, config)
        return adapter.parse(request).messages[0].sender_id


class CustomCase(Case):
    def body(self, message_id, sender, text):
        return json.dumps({"id": message_id, "sender": sender, "sender_name": "Ada Lovelace",
                           "text": text, "thread": "ops-42"}, ensure_ascii=False).encode()

    def sign(self, body):
        return {"Content-Type": "application/json",
                **hmac_headers(self.credentials["signing_secret"], body)}

    def forge(self, body):
        return {"Content-Type": "application/json", **hmac_headers("not-the-secret", body)}


class SlackCase(Case):
    def body(self, message_id, sender, text):
        return json.dumps({
            "token": "XXYYZZ", "team_id": "T0001ABCD", "api_app_id": "A0FFV41KK",
            "event": {"type": "message", "channel": "C2147483705", "user": sender, "text": text,
                      "ts": "1355517523.000005", "event_ts": "1355517523.000005",
                      "channel_type": "channel"},
            "type": "event_callback", "event_id": message_id, "event_time": 1355517523,
        }, ensure_ascii=False).encode()

    def sign(self, body):
        return {"Content-Type": "application/json",
                **slack_headers(self.credentials["SLACK_SIGNING_SECRET"], body)}

    def forge(self, body):
        return {"Content-Type": "application/json", **slack_headers("0" * 32, body)}

    def challenge(self):
        return json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification",
                           "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
                          ).encode()


def installed(platform: str) -> bool:
    return bool(entry_points(group="orqo", name=platform))


CASES = [
    pytest.param(CustomCase("custom", {"signing_secret": "rt-s3cret-ÄÖ-custom"}), id="custom"),
    pytest.param(SlackCase("slack", {
        "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
        "SLACK_BOT_TOKEN": "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy"}),
        id="slack", marks=pytest.mark.skipif(not installed("slack"),
                                            reason="the orqo-slack plugin is not installed")),
]


def credential_args(credentials: dict) -> list[str]:
    return [arg for key, value in credentials.items() for arg in ("--credential", f"{key}={value}")]


def answer(response: requests.Response):
    """What the platform sees, without the ids that differ between Apps."""
    try:
        data = response.json()
    except ValueError:
        return response.status_code, response.headers.get("Content-Type"), response.text
    if isinstance(data, dict):
        data.pop("delivery_id", None)
    return response.status_code, data


def outcomes(ledger: list[dict]) -> list[tuple]:
    return [(entry["outcome"], entry["status_code"], entry["reason"],
             [(m["outcome"], m["handler"], m["dedupe_key"], m["sender_id"], m["kind"])
              for m in entry["messages"]])
            for entry in ledger]


@pytest.mark.parametrize("case", CASES)
def test_a_remote_app_behaves_as_the_in_process_app(make_server, serve_adapter, case):
    adapter_server = serve_adapter(case.platform)
    server = make_server()
    local = server.cli_json("apps", "create", "--name", f"{case.platform} in-process",
                            "--adapter", case.platform, *credential_args(case.credentials))
    remote = server.cli_json("apps", "create", "--name", f"{case.platform} remote",
                             "--adapter", "remote", "--config", f"url={adapter_server.url}",
                             *credential_args(case.credentials))
    credential_map = remote["config"]["credential_map"]
    assert set(case.credentials) <= set(credential_map)
    assert all(key == maps_to for key, maps_to in credential_map.items())
    sender = case.sender_id("U2147483697")
    server.cli_json("contacts", "create", "--name", "Ada", "--channel", f"{local['id']}={sender}",
                    "--channel", f"{remote['id']}={sender}")

    valid = case.body("Ev0PV52K21", "U2147483697", "Grüße aus Zürich 👋 — deploy done?")
    stranger = case.body("Ev0PV52K22", "U0STRANGER", "who is this? 🤔")
    malformed = b'{"event": [unterminated'
    deliveries = [(valid, case.sign(valid)), (valid, case.forge(valid)),
                  (valid, case.sign(valid)), (stranger, case.sign(stranger)),
                  (malformed, case.sign(malformed))]
    if case.challenge():
        deliveries.append((case.challenge(), case.sign(case.challenge())))
    answers = {}
    for app in (local, remote):
        answers[app["id"]] = [
            answer(requests.post(server.url + app["webhook_path"], data=body, headers=headers,
                                 timeout=10))
            for body, headers in deliveries]
    assert answers[remote["id"]] == answers[local["id"]], adapter_server.log()[-3000:]

    ledgers = {app["id"]: outcomes(server.cli_json("deliveries", "list", "--json", "--app", app["id"]))
               for app in (local, remote)}
    assert ledgers[remote["id"]] == ledgers[local["id"]]
    expected = ["accepted", "rejected_signature", "accepted", "accepted", "malformed"]
    if case.challenge():
        expected.append("challenge")
    ledger = list(reversed(ledgers[remote["id"]]))
    assert [entry[0] for entry in ledger] == expected
    assert [m[0] for entry in ledger for m in entry[3]] == ["routed", "duplicate",
                                                            "unknown_sender"]

    report = server.cli_json("adapters", "check", "--", remote["id"])
    assert report["ready"] is True
    assert report["manifest"]["name"] == case.platform
    assert report["health"]["status"] == "ready"
    for secret in case.credentials.values():
        assert secret not in server.log() and secret not in adapter_server.log()

    # The adapter goes away: the platform is asked to retry, nothing is routed.
    adapter_server.stop()
    later = case.body("Ev0PV52K23", "U2147483697", "still there?")
    down = requests.post(server.url + remote["webhook_path"], data=later,
                         headers=case.sign(later), timeout=10)
    assert down.status_code == 503 and down.headers["Retry-After"]
    [last] = server.cli_json("deliveries", "list", "--json", "--app", remote["id"], "--limit", "1")
    assert last["outcome"] == "adapter_error" and last["messages"] == []
    assert "connection failed" in last["reason"]
    check = server.cli("adapters", "check", "--", remote["id"], check=False)
    assert check.returncode == 1
    assert json.loads(check.stderr)["error"]["code"] == "adapter_not_ready"


class SlowAdapter:
    """A remote adapter on loopback that serves its manifest but never answers a stage in time."""

    MANIFEST = {"schema_version": "1.0", "name": "custom", "description": "slow",
                "capabilities": ["receive"], "credentials": [
                    {"key": "signing_secret", "maps_to": "signing_secret", "type": "secret",
                     "label": "Signing secret"}]}

    def __init__(self):
        self.release = threading.Event()
        self.stage_calls = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._send(200, outer.MANIFEST if self.path == "/manifest.json"
                           else {"status": "ready", "version": "slow-1"})

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.stage_calls.append(self.path)
                outer.release.wait(30)  # far past any budget; released at teardown
                self._send(200, {"accepted": True})

            def _send(self, status, data):
                body = json.dumps(data).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # orqo gave up and closed the connection
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def slow_adapter():
    adapter = SlowAdapter()
    yield adapter
    adapter.stop()


def test_a_remote_adapter_that_times_out_gets_the_platform_a_503(make_server, slow_adapter):
    server = make_server()
    app = server.cli_json("apps", "create", "--name", "slow", "--adapter", "remote",
                          "--config", f"url={slow_adapter.url}", "--config", "budget_seconds=0.3",
                          "--credential", "signing_secret=slow-s3cret")
    server.cli_json("contacts", "create", "--name", "Ada", "--channel", f"{app['id']}=ada")
    body = json.dumps({"id": "m-1", "sender": "ada", "text": "hello? ⏳"}).encode()
    response = requests.post(server.url + app["webhook_path"], data=body,
                             headers=hmac_headers("slow-s3cret", body), timeout=10)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "adapter_error"
    [entry] = server.cli_json("deliveries", "list", "--json")
    assert entry["outcome"] == "adapter_error" and entry["status_code"] == 503
    assert "POST /verify-webhook: timed out" in entry["reason"]
    assert entry["messages"] == []
    assert slow_adapter.stage_calls == ["/verify-webhook"]
