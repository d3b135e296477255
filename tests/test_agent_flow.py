"""The agent side end to end, with real processes on loopback: gunicorn, ``orqo worker`` and a
receiver that verifies each push with the public standardwebhooks library."""
import base64
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from orqo.testing.server import free_port
from orqo.testing.signers import hmac_headers

SECRET = "whsec_" + base64.b64encode(b"agent-flow-push-secret-32-bytes!").decode()
SIGNING = "custom-signing-secret"


def wait_for(check, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def receiver(tmp_path):
    port, log = free_port(), tmp_path / "received.jsonl"
    process = subprocess.Popen([sys.executable, str(Path(__file__).with_name("receiver.py")),
                                str(port), SECRET, str(log)])
    url = f"http://127.0.0.1:{port}/hooks"
    wait_for(lambda: _answers(url), 10, "the receiver")
    yield url, log
    process.terminate()
    process.wait(10)


def _answers(url):
    try:
        requests.get(url, timeout=0.5)
        return True
    except requests.ConnectionError:
        return False


def received(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_waitbox_doorkeeper_sessions_leases_and_push(make_server, receiver):
    url, log = receiver
    env = {"ORQO_AGENT_PUSH_URL": url, "ORQO_AGENT_PUSH_SECRET": SECRET,
           "ORQO_PUSH_BACKOFF_BASE": "0.05", "ORQO_PUSH_BACKOFF_MAX": "0.2",
           "ORQO_PUSH_MAX_ATTEMPTS": "4", "ORQO_WORKER_POLL_SECONDS": "0.05"}
    server = make_server(env=env)
    app = server.cli_json("apps", "create", "--name", "support", "--adapter", "custom",
                          "--credential", f"signing_secret={SIGNING}")
    contact = server.cli_json("contacts", "create", "--name", "Ada", "--channel",
                              f"{app['id']}=ada")
    token = server.cli_json("tokens", "create", "--name", "agents", "--scope", "agent")["token"]
    auth = {"Authorization": f"Bearer {token}"}
    worker = subprocess.Popen([str(Path(sys.executable).with_name("orqo")), "worker"],
                              env=server.env, cwd=Path(__file__).resolve().parents[1])

    def say(message_id, text):
        body = json.dumps({"id": message_id, "sender": "ada", "text": text}).encode()
        response = requests.post(server.url + app["webhook_path"], data=body,
                                 headers=hmac_headers(SIGNING, body), timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["messages"][0]

    def api(method, path, **kwargs):
        return requests.request(method, server.url + path, headers=auth, timeout=10, **kwargs)

    try:
        # An agent asks a question and waits; the contact's reply answers it and is pushed.
        waitbox = api("POST", "/api/v1/waitboxes", json={
            "app_id": app["id"], "contact_id": contact["id"], "expires_in": 600,
            "reference": "run-9/approve"}).json()
        assert say("m1", "Yes, approved [fail3]")["handler"] == "waitbox"
        answered = api("GET", f"/api/v1/waitboxes/{waitbox['id']}").json()
        assert answered["status"] == "answered"
        assert answered["message"]["text"] == "Yes, approved [fail3]"

        # A second reply goes to Doorkeeper; "reset" opens a new session.
        assert say("m2", "Also, what about Friday?")["handler"] == "doorkeeper"
        assert say("m3", "reset")["handler"] == "doorkeeper"

        # A claimed message not acknowledged is handed out again after its lease.
        first = api("POST", "/api/v1/doorkeeper/claims",
                    json={"claimant": "agent-a", "lease_seconds": 0.5}).json()["messages"]
        assert [m["message"]["text"] for m in first] == ["Also, what about Friday?"]
        time.sleep(0.7)
        again = api("POST", "/api/v1/doorkeeper/claims",
                    json={"claimant": "agent-b", "lease_seconds": 30}).json()
        assert [m["entry_id"] for m in again["messages"]] == [first[0]["entry_id"]]
        conversation = api("GET", f"/api/v1/conversations/{first[0]['conversation_id']}").json()
        assert len(conversation["sessions"]) == 2

        # A receiver that always fails: the push ends dead-lettered.
        say("m4", "this one cannot be delivered [failall]")

        def settled():
            pushes = server.cli_json("pushes", "list", "--json")
            done = [p for p in pushes if p["status"] in ("delivered", "dead")]
            return pushes if len(done) == len(pushes) == 4 else None

        pushes = {p["message_id"]: p for p in wait_for(settled, 60, "pushes to settle")}
    finally:
        worker.terminate()
        worker.wait(15)

    assert worker.returncode == 0
    by_text = {p["payload"]["message"]["text"]: p for p in received(log)}
    statuses = {}
    for entry in received(log):
        statuses.setdefault(entry["payload"]["message"]["text"], []).append(entry["status"])
    assert all(entry["verified"] for entry in received(log))
    assert statuses["Yes, approved [fail3]"] == [500, 500, 500, 200]
    assert by_text["Yes, approved [fail3]"]["payload"]["route"]["reference"] == "run-9/approve"
    assert statuses["this one cannot be delivered [failall]"] == [500] * 4
    final = sorted(pushes.values(), key=lambda p: p["message_id"])
    assert [p["status"] for p in final] == ["delivered", "delivered", "delivered", "dead"]
    assert [len(p["attempt_log"]) for p in final] == [4, 1, 1, 4]
    assert SECRET not in server.log() and token not in server.log()
