"""Reliability under load and faults, against real gunicorn workers on loopback.

Every delivery that got a 2xx is stored and routed exactly once; redeliveries racing in several
workers are routed once; a worker killed mid-load loses nothing that was acknowledged; a
database outage turns answers into 503 + Retry-After (never a 2xx for something not stored)
and orqo recovers by itself. Bounded in count and time; each test prints its figures (run with
``-s`` to see them; docs/reliability.md holds the last run's).
"""
import os
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import make_url

from orqo.testing.server import free_port
from tests.load import QUIET
from tests.load import RACE_FIGURES
from tests.load import RetryingSender
from tests.load import assert_each_waitbox_answered_once
from tests.load import assert_storm_exactly_once
from tests.load import duplicate_storm
from tests.load import figures_line
from tests.load import in_background
from tests.load import outcome_counts
from tests.load import post
from tests.load import routed_keys
from tests.load import setup_app
from tests.load import status
from tests.load import waitbox_race
from tests.load import worker_pids


def test_duplicate_storm(make_server, database_url):
    """2,000 messages, each sent 3 times at once to 4 workers: each routed exactly once."""
    server = make_server(workers=4, env=QUIET)
    app = setup_app(server)
    figures = duplicate_storm(server.url + app.webhook_path, database_url, app.id)
    print(figures_line("duplicate storm", figures))
    assert_storm_exactly_once(figures)


def test_waitbox_race(make_server, database_url):
    """50 waitboxes, 4 concurrent replies from each Contact: each waitbox answered once."""
    server = make_server(workers=4, env=QUIET)
    app = setup_app(server, [f"person-{i}" for i in range(50)])
    token = server.cli_json("tokens", "create", "--name", "agents", "--scope", "agent")["token"]
    race = waitbox_race(server.url, app, token)
    print(figures_line("waitbox race", race, RACE_FIGURES))
    assert_each_waitbox_answered_once(race)


def test_worker_killed_mid_load_loses_nothing_acknowledged(make_server, database_url):
    """A worker killed 1 s into 600 deliveries: retried as a platform would, every message is
    acknowledged and routed once."""
    server = make_server(workers=4, env=QUIET)
    app = setup_app(server)
    ids = [f"crash-{i}" for i in range(600)]
    sender = RetryingSender(server.url + app.webhook_path)
    killed = []

    def killer():
        time.sleep(1.0)
        victims = worker_pids(server.process.pid)
        if victims:
            os.kill(victims[0], signal.SIGKILL)
        killed.append(victims[:1])

    thread = in_background(killer)
    sender.send(ids)
    thread.join()
    counts = outcome_counts(database_url, app.id)
    print(f"\nworker crash: sent={len(ids)} killed={killed} "
          f"acknowledged={len(sender.acknowledged)} "
          f"first_try_failures={sender.first_try_failures} routed={counts.get('routed')} "
          f"duplicate={counts.get('duplicate', 0)}")
    assert killed and killed[0], "no worker to kill"
    assert sender.acknowledged == set(ids)
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
        """Listen (again) and pass every new connection on to PostgreSQL."""
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
            if listener is not self.listener:
                # Closing a listening socket does not wake an accept() already waiting on it:
                # a connection accepted after cut() must be refused, not passed on.
                client.close()
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
        self.listener = None
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.sockets = []


def test_database_outage_answers_503_and_recovers(make_server, database_url):
    """Every database connection cut mid-load: 503 with Retry-After, never a 2xx for something
    not stored, and orqo recovers by itself once the database is back."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the outage is simulated in front of a PostgreSQL server")
    real = make_url(database_url)
    proxy = FlakyProxy(real.port or 5432)
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    server = make_server(workers=4, env={**QUIET, "ORQO_DATABASE_URL": proxied,
                                         "ORQO_DATABASE_CONNECT_TIMEOUT": "2"})
    app = setup_app(server)
    url = server.url + app.webhook_path
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
            if status(post(url, "probe-after-outage")) == 200:
                break
            time.sleep(0.5)
        list(pool.map(deliver, [f"out-{i}" for i in phases["after"]]))

    def statuses(phase):
        return [status(results[f"out-{i}"]) for i in phases[phase]]

    during = statuses("during")
    unavailable = [results[f"out-{i}"] for i in phases["during"]
                   if status(results[f"out-{i}"]) == 503]
    acknowledged = {mid for mid, answer in results.items() if status(answer) == 200}
    counts = outcome_counts(proxied, app.id)
    print(f"\ndatabase outage: before={statuses('before').count(200)}/100 2xx, "
          f"during={during.count(503)}/100 503 and {during.count(200)} 2xx, "
          f"after={statuses('after').count(200)}/100 2xx, routed={counts.get('routed')}, "
          f"acknowledged={len(acknowledged)}")
    assert statuses("before") == [200] * 100
    assert all(isinstance(s, int) for s in during), during  # no hang, no reset
    assert set(during) <= {200, 503}
    assert during.count(503) >= 90
    assert all(answer.headers.get("Retry-After") for answer in unavailable)
    assert statuses("after") == [200] * 100
    # Never a 2xx for something that was not stored.
    assert acknowledged <= routed_keys(proxied, app.id)
    assert counts["keys_routed_twice"] == 0
