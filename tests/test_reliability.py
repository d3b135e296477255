"""Reliability under load and faults, against real gunicorn workers on loopback.

Every delivery that got a 2xx is stored and routed exactly once; redeliveries racing in several
workers are routed once; a worker killed mid-load loses nothing that was acknowledged; a
database outage turns answers into 503 + Retry-After (never a 2xx for something not stored)
and orqo recovers by itself. Bounded in count and time; each test prints its figures (run with
``-s`` to see them; docs/reliability.md holds the last run's).
"""
import json
import os
import signal
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import create_engine
from sqlalchemy import text

from orqo.testing.server import free_port
from orqo.testing.signers import hmac_headers

SECRET = "reliability-secret"
QUIET = {"ORQO_SENDER_RATE_LIMIT": "0", "ORQO_LOG_LEVEL": "WARNING"}
_local = threading.local()


def session() -> requests.Session:
    """One HTTP session per load thread."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def signed_body(message_id, sender="ada", text="hello"):
    body = json.dumps({"id": message_id, "sender": sender, "text": text}).encode()
    return body, {**hmac_headers(SECRET, body), "Content-Type": "application/json"}


def post(url, message_id, sender="ada", text="hello", timeout=10):
    body, headers = signed_body(message_id, sender, text)
    try:
        return session().post(url, data=body, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        return exc


def outcome_counts(database_url, app_id) -> dict:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
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


def setup_app(server, senders=("ada",)):
    app = server.cli_json("apps", "create", "--name", "load", "--adapter", "custom",
                          "--credential", f"signing_secret={SECRET}")
    for sender in senders:
        server.cli_json("contacts", "create", "--name", sender, "--channel",
                        f"{app['id']}={sender}")
    return app, server.url + app["webhook_path"]


def test_duplicate_storm(make_server, database_url):
    server = make_server(workers=4, env=QUIET)
    app, url = setup_app(server)
    ids = [f"storm-{i}" for i in range(2000)]
    copies = [message_id for message_id in ids for _ in range(3)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(lambda message_id: post(url, message_id), copies))
    elapsed = time.monotonic() - started
    statuses = [a.status_code if isinstance(a, requests.Response) else type(a).__name__
                for a in answers]
    counts = outcome_counts(database_url, app["id"])
    print(f"\nduplicate storm: sent={len(copies)} acknowledged={statuses.count(200)} "
          f"routed={counts.get('routed')} duplicate={counts.get('duplicate')} "
          f"5xx={sum(1 for s in statuses if isinstance(s, int) and s >= 500)} "
          f"seconds={elapsed:.1f}")
    assert statuses.count(200) == len(copies)
    assert counts.get("routed") == 2000
    assert counts.get("duplicate") == 4000
    assert counts["keys_routed_twice"] == 0


def test_waitbox_race(make_server, database_url):
    server = make_server(workers=4, env=QUIET)
    contacts = [f"person-{i}" for i in range(50)]
    app, url = setup_app(server, contacts)
    token = server.cli_json("tokens", "create", "--name", "agents", "--scope", "agent")["token"]
    auth = {"Authorization": f"Bearer {token}"}
    by_sender = {}
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        for sender, contact_id in connection.execute(text(
                "SELECT sender_id, contact_id FROM contact_channels")).all():
            by_sender[sender] = contact_id
    engine.dispose()
    waitboxes = []
    for sender in contacts:
        response = requests.post(server.url + "/api/v1/waitboxes", headers=auth, timeout=10,
                                 json={"app_id": app["id"], "contact_id": by_sender[sender],
                                       "expires_in": 600, "reference": sender})
        assert response.status_code == 201
        waitboxes.append(response.json()["id"])
    replies = [(f"{sender}-reply-{n}", sender) for sender in contacts for n in range(4)]
    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(lambda r: post(url, r[0], r[1]), replies))
    assert all(isinstance(a, requests.Response) and a.status_code == 200 for a in answers)
    handlers = [a.json()["messages"][0]["handler"] for a in answers]
    states = [requests.get(f"{server.url}/api/v1/waitboxes/{w}", headers=auth, timeout=10).json()
              for w in waitboxes]
    print(f"\nwaitbox race: waitboxes=50 replies={len(replies)} "
          f"to_waitbox={handlers.count('waitbox')} to_doorkeeper={handlers.count('doorkeeper')}")
    assert [s["status"] for s in states] == ["answered"] * 50
    assert len({s["message_id"] for s in states}) == 50
    assert all(s["message"]["sender_id"] == s["reference"] for s in states)
    assert handlers.count("waitbox") == 50 and handlers.count("doorkeeper") == 150


def worker_pids(master_pid):
    out = subprocess.run(["pgrep", "-P", str(master_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_worker_killed_mid_load_loses_nothing_acknowledged(make_server, database_url):
    server = make_server(workers=4, env=QUIET)
    app, url = setup_app(server)
    ids = [f"crash-{i}" for i in range(600)]
    acknowledged, attempts = set(), {"first_try_failures": 0}
    lock = threading.Lock()

    def deliver(message_id):
        for attempt in range(8):  # a platform retries what was not acknowledged
            answer = post(url, message_id)
            if isinstance(answer, requests.Response) and answer.status_code == 200:
                with lock:
                    acknowledged.add(message_id)
                return
            if attempt == 0:
                with lock:
                    attempts["first_try_failures"] += 1
            time.sleep(0.2)

    def killer():
        time.sleep(1.0)
        victims = worker_pids(server.process.pid)
        if victims:
            os.kill(victims[0], signal.SIGKILL)
        killed.append(victims[:1])

    killed = []
    thread = threading.Thread(target=killer)
    thread.start()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(deliver, ids))
    thread.join()
    counts = outcome_counts(database_url, app["id"])
    print(f"\nworker crash: sent={len(ids)} killed={killed} acknowledged={len(acknowledged)} "
          f"first_try_failures={attempts['first_try_failures']} routed={counts.get('routed')} "
          f"duplicate={counts.get('duplicate', 0)}")
    assert killed and killed[0], "no worker to kill"
    assert acknowledged == set(ids)
    assert counts.get("routed") == len(ids)
    assert counts["keys_routed_twice"] == 0


class FlakyProxy:
    """A TCP proxy on loopback in front of PostgreSQL that can cut every connection."""

    def __init__(self, upstream_port: int):
        self.port = free_port()
        self.upstream = ("127.0.0.1", upstream_port)
        self.sockets, self.listener, self.lock = [], None, threading.Lock()
        self.start()

    def start(self):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(64)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while chunk := source.recv(65536):
                target.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (source, target):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        """The database goes away: refuse new connections and break the open ones."""
        self.listener.close()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.sockets = []


def test_database_outage_answers_503_and_recovers(make_server, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("the outage is simulated in front of a PostgreSQL server")
    from sqlalchemy.engine import make_url

    real = make_url(database_url)
    proxy = FlakyProxy(real.port or 5432)
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    server = make_server(workers=4, env={**QUIET, "ORQO_DATABASE_URL": proxied,
                                         "ORQO_DATABASE_CONNECT_TIMEOUT": "2"})
    app, url = setup_app(server)
    results = {}
    lock = threading.Lock()

    def deliver(message_id):
        answer = post(url, message_id, timeout=10)
        with lock:
            results[message_id] = answer

    phases = {"before": range(0, 100), "during": range(100, 200), "after": range(200, 300)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(deliver, [f"out-{i}" for i in phases["before"]]))
        proxy.cut()
        list(pool.map(deliver, [f"out-{i}" for i in phases["during"]]))
        proxy.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # orqo recovers by itself
            probe = post(url, "probe-after-outage")
            if isinstance(probe, requests.Response) and probe.status_code == 200:
                break
            time.sleep(0.5)
        list(pool.map(deliver, [f"out-{i}" for i in phases["after"]]))

    def statuses(phase):
        return [getattr(results[f"out-{i}"], "status_code", type(results[f"out-{i}"]).__name__)
                for i in phases[phase]]

    during = statuses("during")
    unavailable = [results[f"out-{i}"] for i in phases["during"]
                   if getattr(results[f"out-{i}"], "status_code", None) == 503]
    acknowledged = {mid for mid, answer in results.items()
                    if getattr(answer, "status_code", None) == 200}
    counts = outcome_counts(proxied.replace("+psycopg", ""), app["id"])
    print(f"\ndatabase outage: before={statuses('before').count(200)}/100 2xx, "
          f"during={during.count(503)}/100 503 and {during.count(200)} 2xx, "
          f"after={statuses('after').count(200)}/100 2xx, routed={counts.get('routed')}, "
          f"acknowledged={len(acknowledged)}")
    assert statuses("before") == [200] * 100
    assert all(isinstance(status, int) for status in during), during  # no hang, no reset
    assert set(during) <= {200, 503}
    assert during.count(503) >= 90
    assert all(answer.headers.get("Retry-After") for answer in unavailable)
    assert statuses("after") == [200] * 100
    engine = create_engine(proxied)
    with engine.connect() as connection:
        stored = {row[0] for row in connection.execute(text(
            "SELECT dedupe_key FROM messages WHERE app_id = :a AND outcome = 'routed'"),
            {"a": app["id"]})}
    engine.dispose()
    assert acknowledged <= stored  # never a 2xx for something that was not stored
    assert counts["keys_routed_twice"] == 0
