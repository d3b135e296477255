"""Against real gunicorn processes on loopback, started as the README and production start them.

These are what only a real server shows: the console script and the workers sharing one
database, and duplicates racing in several worker processes.
"""
import json
import time
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
    return server.cli_json("deliveries", "list", "--json", "--limit", "200")


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


def test_a_chunked_body_over_the_limit_is_413_on_a_real_server(make_server):
    """gunicorn hands a chunked body over without a length; orqo still holds the limit."""
    server = make_server(env={"ORQO_MAX_CONTENT_LENGTH": "1024"})
    app = setup_app_and_contact(server)

    def chunked(body: bytes):
        pieces = iter([body[i:i + 100] for i in range(0, len(body), 100)])  # no Content-Length
        return requests.post(server.url + app["webhook_path"], data=pieces, timeout=10, headers={
            "Content-Type": "application/json", "X-Signature-256": sign(SECRET, body)})

    at_limit = json.dumps({"id": "c1", "sender": "ada", "text": ""}).encode()
    at_limit = at_limit.replace(b'""', b'"' + b"x" * (1024 - len(at_limit)) + b'"')
    assert len(at_limit) == 1024
    accepted = chunked(at_limit)
    assert accepted.status_code == 200, accepted.text
    assert accepted.request.headers.get("Transfer-Encoding") == "chunked"
    over = chunked(json.dumps({"id": "c2", "sender": "ada", "text": "x" * 2000}).encode())
    assert over.status_code == 413, over.text
    assert over.json()["error"]["code"] == "request_entity_too_large"
    assert [event["outcome"] for event in events(server)] == ["accepted"]


def test_a_rotated_secret_is_refused_by_every_worker_within_a_second(make_server):
    """Workers serve Apps from memory (orqo.app_cache); a rotation made by another process
    (the CLI, here) takes effect on every worker within APP_CACHE_SECONDS (0.5 s)."""
    server = make_server(workers=3)
    app = setup_app_and_contact(server)
    new_secret = "a-brand-new-secret-after-rotation"

    def answers(secret, count=30):
        codes = []
        for i in range(count):  # a new connection each: spread over the workers
            body = json.dumps({"id": f"rot-{uuid.uuid4()}", "sender": "ada", "text": "x"}).encode()
            codes.append(requests.post(
                server.url + app["webhook_path"], data=body, timeout=10, headers={
                    "Content-Type": "application/json", "Connection": "close",
                    "X-Signature-256": sign(secret, body)}).status_code)
        return codes

    assert answers(SECRET) == [200] * 30  # every worker has the App in its cache now
    server.cli("apps", "rotate-credentials", app["id"], "--credential",
               f"signing_secret={new_secret}", "--keep-previous-for", "0")
    time.sleep(1.0)
    assert answers(SECRET) == [401] * 30
    assert answers(new_secret) == [200] * 30
