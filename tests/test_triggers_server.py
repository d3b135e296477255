"""Workflow triggers against a real gunicorn process (issue 5's acceptance)."""
import json
from concurrent.futures import ThreadPoolExecutor

import requests

from orqo.testing.signers import hmac_headers


def test_triggers_on_a_real_server(make_server):
    server = make_server(workers=2)
    workflow = server.cli_json("workflows", "create", "--name", "deploy")
    trigger = server.cli_json("triggers", "create", str(workflow["id"]))
    hook = server.url + trigger["url_path"]
    token = trigger["url_path"].rsplit("/", 1)[1]
    api_token = server.cli_json("tokens", "create", "--name", "ci", "--scope", "trigger",
                                "--scope", "agent")["token"]  # agent: reads the token URL's run
    auth = {"Authorization": f"Bearer {api_token}"}

    started = requests.post(hook, json={"event": "push", "branch": "main"}, timeout=10)
    assert started.status_code == 201
    run_id = started.json()["workflow_run_id"]
    run = requests.get(f"{server.url}/api/v1/runs/{run_id}", headers=auth, timeout=10).json()
    assert run["input"] == {"event": "push", "branch": "main"}

    assert requests.post(server.url + "/api/v1/hooks/" + "x" * 43, json={},
                         timeout=10).status_code == 404
    not_json = requests.post(hook, data="event=push", timeout=10,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert not_json.status_code == 415 and "JSON" in not_json.json()["error"]["message"]

    api = requests.post(f"{server.url}/api/v1/trigger", headers=auth, timeout=10,
                        json={"workflow_id": workflow["id"], "input": "go"})
    assert api.status_code == 201
    assert requests.post(f"{server.url}/api/v1/trigger", timeout=10,
                         json={"workflow_id": workflow["id"]}).status_code == 401

    # The same Idempotency-Key from senders retrying at once starts one run.
    key = {"Idempotency-Key": "release-1.2.3"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: requests.post(hook, json={"v": "1.2.3"}, headers=key,
                                                        timeout=10), range(6)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["workflow_run_id"] for a in answers}) == 1

    server.cli("triggers", "disable", str(trigger["id"]))
    assert requests.post(hook, json={}, timeout=10).status_code == 409

    runs = server.cli_json("runs", "list", "--json")
    assert len(runs) == 3
    assert token not in server.log() and api_token not in server.log()
    assert "/api/v1/hooks/[redacted]" in server.log()


def test_app_with_doorkeeper_off_starts_a_run_on_a_real_server(make_server):
    server = make_server()
    app = server.cli_json("apps", "create", "--name", "alerts", "--adapter", "custom",
                          "--credential", "signing_secret=trigger-signing-secret", "--no-route-to-doorkeeper")
    assert app["route_to_doorkeeper"] is False
    server.cli_json("contacts", "create", "--name", "Pager", "--channel", f"{app['id']}=pager")
    workflow = server.cli_json("workflows", "create", "--name", "incident")
    server.cli_json("triggers", "create-app-event", str(workflow["id"]), "--app", app["id"],
                    "--filter", json.dumps({"text_pattern": "^ALERT"}))
    body = json.dumps({"id": "a1", "sender": "pager", "text": "ALERT disk full"}).encode()
    response = requests.post(server.url + app["webhook_path"], data=body,
                             headers=hmac_headers("trigger-signing-secret", body), timeout=10)
    assert response.json()["messages"] == [{"outcome": "routed", "handler": "app_event"}]
    [run] = server.cli_json("runs", "list", "--json")
    assert run["trigger_kind"] == "app_event" and run["input"]["text"] == "ALERT disk full"
