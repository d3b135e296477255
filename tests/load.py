"""Load shared by the reliability tests, on one host (tests/test_reliability.py) and on two
behind nginx (tests/test_reliability_hosts.py).

Senders are threads, each with its own HTTP session, posting custom-adapter deliveries signed
with :data:`SECRET`; afterwards the ledger is read straight from the database. The load
scenarios (the duplicate storm, the waitbox race, deliveries retried until acknowledged) are
written here once and take the base URL they send to: gunicorn's own, or nginx's.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from dataclasses import field

import requests
from sqlalchemy import create_engine
from sqlalchemy import text

from orqo.testing.signers import hmac_headers

SECRET = "reliability-secret"
QUIET = {"ORQO_SENDER_RATE_LIMIT": "0", "ORQO_LOG_LEVEL": "WARNING"}
THREADS = 24
STORM_FIGURES = ("sent", "acknowledged", "routed", "duplicate", "5xx", "seconds")
RACE_FIGURES = ("waitboxes", "replies", "acknowledged", "to_waitbox", "to_doorkeeper", "seconds")
_local = threading.local()


def session() -> requests.Session:
    """One HTTP session per load thread."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def signed_body(message_id, sender="ada", text="hello"):
    """A custom-adapter delivery of one message and its headers, signed with :data:`SECRET`."""
    body = json.dumps({"id": message_id, "sender": sender, "text": text}).encode()
    return body, {**hmac_headers(SECRET, body), "Content-Type": "application/json"}


def post(url, message_id, sender="ada", text="hello", timeout=10, verify=True):
    """Deliver one signed message to ``url``: the response, or the exception raised."""
    body, headers = signed_body(message_id, sender, text)
    try:
        return session().post(url, data=body, headers=headers, timeout=timeout, verify=verify)
    except requests.RequestException as exc:
        return exc


def status(answer):
    """The HTTP status of what :func:`post` returned, or the exception's class name."""
    return answer.status_code if isinstance(answer, requests.Response) else type(answer).__name__


def server_errors(statuses) -> int:
    """How many of ``statuses`` are 5xx."""
    return sum(1 for s in statuses if isinstance(s, int) and s >= 500)


def _engine(database_url):
    return create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))


def outcome_counts(database_url, app_id) -> dict:
    """The App's messages counted by outcome, plus ``keys_routed_twice``: how many dedupe
    keys were routed more than once (the exactly-once promise says 0)."""
    engine = _engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT outcome, count(*) FROM messages WHERE app_id = :a GROUP BY outcome"),
                {"a": app_id}).all()
            keys = connection.execute(text(
                "SELECT dedupe_key, count(*) FROM messages WHERE app_id = :a "
                "AND outcome = 'routed' GROUP BY dedupe_key HAVING count(*) > 1"),
                {"a": app_id}).all()
    finally:
        engine.dispose()
    counts = dict(rows)
    counts["keys_routed_twice"] = len(keys)
    return counts


def routed_keys(database_url, app_id) -> set:
    """The dedupe keys of the App's routed messages."""
    engine = _engine(database_url)
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text(
                "SELECT dedupe_key FROM messages WHERE app_id = :a AND outcome = 'routed'"),
                {"a": app_id})}
    finally:
        engine.dispose()


@dataclass
class LoadApp:
    """An App on the custom adapter, signed with :data:`SECRET`, and its Contacts' ids by
    sender id."""

    id: str
    webhook_path: str
    contacts: dict = field(default_factory=dict)


def setup_app(server, senders=("ada",), base_url=None, verify=True) -> LoadApp:
    """Create an App (``server``'s command line: its signing secret) and one Contact per
    sender (the admin API at ``base_url``, ``server.url`` by default: one command per Contact
    would take a second each)."""
    app = server.cli_json("apps", "create", "--name", "load", "--adapter", "custom",
                          "--credential", f"signing_secret={SECRET}")
    token = server.cli_json("tokens", "create", "--name", "setup", "--scope", "admin")["token"]
    contacts = {}
    for sender in senders:
        response = session().post(
            (base_url or server.url) + "/api/v1/contacts", timeout=10, verify=verify,
            headers={"Authorization": f"Bearer {token}"},
            json={"name": sender, "channels": [{"app_id": app["id"], "sender_id": sender}]})
        assert response.status_code == 201, response.text
        contacts[sender] = response.json()["id"]
    return LoadApp(app["id"], app["webhook_path"], contacts)


def worker_pids(master_pid):
    """The pids of a gunicorn master's worker processes."""
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def duplicate_storm(url, database_url, app_id, messages=2000, copies=3, verify=True) -> dict:
    """Send ``messages`` distinct messages to ``url``, each ``copies`` times concurrently
    (:data:`THREADS` senders); return the figures: sent, acknowledged (200), the ledger's
    routed and duplicate counts, keys routed twice, 5xx and seconds."""
    ids = [f"storm-{i}" for i in range(messages)]
    sends = [message_id for message_id in ids for _ in range(copies)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(lambda m: status(post(url, m, verify=verify)), sends))
    elapsed = time.monotonic() - started
    counts = outcome_counts(database_url, app_id)
    return {"sent": len(sends), "acknowledged": statuses.count(200),
            "routed": counts.get("routed"), "duplicate": counts.get("duplicate"),
            "keys_routed_twice": counts["keys_routed_twice"],
            "5xx": server_errors(statuses), "seconds": round(elapsed, 1),
            "others": Counter(s for s in statuses if s != 200)}


def figures_line(name, figures, keys=STORM_FIGURES) -> str:
    """``name: key=value ...``, the line a test prints (docs/reliability.md quotes them)."""
    return f"\n{name}: " + " ".join(f"{key}={figures[key]}" for key in keys)


def assert_storm_exactly_once(figures, messages=2000, copies=3) -> None:
    """Every copy acknowledged, each message routed once, every other copy a duplicate."""
    assert figures["acknowledged"] == figures["sent"], figures["others"]
    assert figures["5xx"] == 0
    assert figures["routed"] == messages
    assert figures["duplicate"] == messages * (copies - 1)
    assert figures["keys_routed_twice"] == 0


def waitbox_race(base_url, app: LoadApp, token, replies_each=4, verify=True) -> dict:
    """Open a waitbox for each of the App's Contacts (agent API, ``token``), then send
    ``replies_each`` replies from every Contact at once; return the handler of every reply,
    each waitbox's final state, and the figures (:data:`RACE_FIGURES`)."""
    started = time.monotonic()
    auth = {"Authorization": f"Bearer {token}"}
    waitboxes = []
    for sender, contact_id in app.contacts.items():
        response = session().post(base_url + "/api/v1/waitboxes", headers=auth, timeout=10,
                                  verify=verify,
                                  json={"app_id": app.id, "contact_id": contact_id,
                                        "expires_in": 600, "reference": sender})
        assert response.status_code == 201, response.text
        waitboxes.append(response.json()["id"])
    replies = [(f"{sender}-reply-{n}", sender) for sender in app.contacts
               for n in range(replies_each)]
    url = base_url + app.webhook_path
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        answers = list(pool.map(lambda r: post(url, r[0], r[1], verify=verify), replies))
    assert [status(a) for a in answers] == [200] * len(replies)
    states = [session().get(f"{base_url}/api/v1/waitboxes/{w}", headers=auth, timeout=10,
                            verify=verify).json()
              for w in waitboxes]
    handlers = [a.json()["messages"][0]["handler"] for a in answers]
    return {"handlers": handlers, "states": states, "waitboxes": len(states),
            "replies": len(replies), "acknowledged": len(answers),
            "to_waitbox": handlers.count("waitbox"), "to_doorkeeper": handlers.count("doorkeeper"),
            "seconds": round(time.monotonic() - started, 1)}


def assert_each_waitbox_answered_once(race, replies_each=4) -> None:
    """Every waitbox answered, by a message of its own Contact, each by a different message;
    every other reply went to Doorkeeper."""
    states, handlers = race["states"], race["handlers"]
    assert [s["status"] for s in states] == ["answered"] * len(states)
    assert len({s["message_id"] for s in states}) == len(states)
    assert all(s["message"]["sender_id"] == s["reference"] for s in states)
    assert handlers.count("waitbox") == len(states)
    assert handlers.count("doorkeeper") == len(states) * (replies_each - 1)


class RetryingSender:
    """Delivers messages as a platform does: each is retried until it is acknowledged (200),
    at most ``attempts`` times, 0.2 s apart. What happened is kept for the test to check while
    the load runs and after."""

    def __init__(self, url, attempts=8, verify=True):
        self.url, self.attempts, self.verify = url, attempts, verify
        self.acknowledged = set()
        self.first_try_failures = 0
        self.failed_statuses = Counter()
        self._lock = threading.Lock()

    def _deliver(self, message_id):
        for attempt in range(self.attempts):
            answer = post(self.url, message_id, verify=self.verify)
            if status(answer) == 200:
                with self._lock:
                    self.acknowledged.add(message_id)
                return
            with self._lock:
                self.failed_statuses[status(answer)] += 1
                self.first_try_failures += attempt == 0
            time.sleep(0.2)

    def send(self, message_ids, threads=16) -> None:
        """Deliver every one of ``message_ids`` from ``threads`` senders."""
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(self._deliver, message_ids))


def in_background(function, *args) -> threading.Thread:
    """``function(*args)`` running in a started thread (join it)."""
    thread = threading.Thread(target=function, args=args)
    thread.start()
    return thread
