"""Against real gunicorn processes on loopback, started as the README and production start them.

These are what only a real server shows: the console script and the workers sharing one
database, and duplicates racing in several worker processes.
"""
import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from orqo_custom import sign

SECRET = "s3cret-for-tests"


def setup_app_and_contact(server):
    app = server.cli_json("apps", "create", "--name", "demo", "--adapter", "custom",
                          "--credential", f"signing_secret={SECRET}")
    server.cli_json("contacts", "create", "--name", "Ada", "--channel", f"{app['id']}=ada")
    return app


def post(server, path, body: bytes, signature=None):
    headers = {"Content-Type": "application/json"}
    headers["X-Signature-256"] = signature if signature is not None else sign(SECRET, body)
    return requests.post(server.url + path, data=body, headers=headers, timeout=10)


def events(server):
    return server.cli_json("events", "list", "--json", "--limit", "1000")


def test_readme_flow_on_a_real_server(make_server):
    server = make_server()
    app = setup_app_and_contact(server)
    body = json.dumps({"id": "m1", "sender": "ada", "text": "Grüße 👋"}, ensure_ascii=False).encode()

    first = post(server, app["webhook_path"], body)
    assert first.status_code == 200
    assert first.json()["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    again = post(server, app["webhook_path"], body)
    assert again.status_code == 200
    forged = post(server, app["webhook_path"], body, signature="sha256=" + "0" * 64)
    assert forged.status_code == 401
    stranger = json.dumps({"id": "m2", "sender": "stranger", "text": "hi"}).encode()
    unknown = post(server, app["webhook_path"], stranger)
    assert unknown.status_code == 200

    ledger = events(server)
    assert [e["outcome"] for e in ledger] == ["accepted", "rejected_signature", "accepted",
                                              "accepted"]
    assert ledger[0]["messages"][0]["outcome"] == "unknown_sender"
    assert ledger[1]["messages"] == []
    assert ledger[2]["messages"][0]["outcome"] == "duplicate"
    assert ledger[3]["messages"][0]["outcome"] == "routed"
    assert ledger[3]["messages"][0]["handler"] == "doorkeeper"

    missing = post(server, "/api/v1/webhooks/NoSuchAppId0000", body)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_app"
    assert len(events(server)) == len(ledger)
    assert SECRET not in server.log()


def test_duplicates_racing_in_several_workers_are_routed_once(make_server):
    server = make_server(workers=3)
    app = setup_app_and_contact(server)
    bodies = [json.dumps({"id": f"race-{uuid.uuid4()}", "sender": "ada", "text": f"n{i}"}).encode()
              for i in range(40)]
    copies = [body for body in bodies for _ in range(3)]

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda body: post(server, app["webhook_path"], body), copies))

    assert [r.status_code for r in responses] == [200] * len(copies), server.log()[-3000:]
    outcomes = [m["outcome"] for e in events(server) for m in e["messages"]]
    assert outcomes.count("routed") == 40
    assert outcomes.count("duplicate") == 80
