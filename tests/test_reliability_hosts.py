"""Reliability across hosts: two orqo instances behind one nginx, sharing one PostgreSQL.

Each "host" is its own gunicorn (``make_server``: its own instance folder and process tree,
``ORQO_PROXY_COUNT=1`` as docs/deploy.md says behind one nginx) on loopback; one nginx running
the production deploy/nginx.conf (tests/nginx_harness.py: TLS, the upstream with one ``server``
line per host, round-robin) takes every request. This is the several-hosts setup of
docs/deploy.md with nginx playing the load balancer. What the tests prove:

* the duplicate storm across hosts: 2,000 messages, each sent 3 times at once, copies landing
  on both hosts: every copy acknowledged, each message routed exactly once, no 5xx. Only the
  database keeps the hosts apart (``dedupe_claims``), as on one host it keeps the workers apart;
* the waitbox race across hosts: 50 waitboxes opened through nginx, 200 concurrent replies
  spread over both hosts: each waitbox answered exactly once, the other 150 to Doorkeeper;
* a host killed (``kill -9`` of its gunicorn master and workers) in the middle of a load: every
  acknowledged delivery is stored and routed once, and the senders' retries of what was not
  acknowledged (nginx's 502 for a POST already sent to the dead host, or an answer cut off
  while nginx relayed it) land on the other host, once.

Which host served a request is read from each gunicorn's own access log (deploy/nginx.conf's
access log names no upstream; with one nginx per host in production it would always name the
same loopback gunicorn). Skipped on SQLite (two hosts cannot share a SQLite file) and where
nginx or openssl is missing. Everything listens on 127.0.0.1; every wait is bounded.
"""
from __future__ import annotations

import os
import signal
import time

import pytest

from tests.load import QUIET
from tests.load import RACE_FIGURES
from tests.load import STORM_FIGURES
from tests.load import RetryingSender
from tests.load import assert_each_waitbox_answered_once
from tests.load import assert_storm_exactly_once
from tests.load import duplicate_storm
from tests.load import figures_line
from tests.load import in_background
from tests.load import outcome_counts
from tests.load import routed_keys
from tests.load import server_errors
from tests.load import setup_app
from tests.load import waitbox_race
from tests.load import worker_pids
from tests.nginx_harness import REQUIRES_NGINX
from tests.nginx_harness import make_nginx  # noqa: F401 (a fixture)
from tests.nginx_harness import wait_until

# Two hosts of 2 sync workers: as many worker processes as the one-host tests' 4, on 2 cores.
WORKERS = 2
HOST_ENV = {**QUIET, "ORQO_PROXY_COUNT": "1"}

pytestmark = REQUIRES_NGINX


@pytest.fixture
def hosts(make_server, make_nginx, database_url, tmp_path):  # noqa: F811
    """Two started orqo hosts on one PostgreSQL database, and the nginx in front of both."""
    if not database_url.startswith("postgresql"):
        pytest.skip("two hosts share one PostgreSQL database; they cannot share a SQLite file")
    servers = []
    for host in ("a", "b"):
        # The test's own metrics directory (systemd's RuntimeDirectory in docs/deploy.md): the
        # one gunicorn.conf.py would make is removed only on exit, never by a killed host.
        metrics = tmp_path / f"metrics-{host}"
        metrics.mkdir()
        servers.append(make_server(workers=WORKERS, env={
            **HOST_ENV, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}))
    return servers, make_nginx(*servers)


def served(server, method, path) -> int:
    """How many ``method path`` requests the host's gunicorn has logged (default format:
    the request line in quotes)."""
    request = f'"{method} {path} HTTP/'
    return sum(request in line for line in server.log().splitlines())


def per_host(servers, method, path, total) -> list[int]:
    """Requests served by each host, once their access logs account for ``total`` (gunicorn
    writes the line just after the response, so the last ones may still be coming)."""
    return wait_until(lambda: [served(server, method, path) for server in servers],
                      lambda counts: sum(counts) >= total)


def shares(split) -> str:
    """Requests per host as printed: ``first/second``."""
    return "/".join(map(str, split))


def assert_both_served(split, total) -> None:
    """Both hosts took a substantial share (round-robin gives each about half)."""
    assert sum(split) == total, split
    assert min(split) >= total // 4, split


def test_duplicate_storm_across_hosts(hosts, database_url):
    """2,000 messages x 3 copies through nginx to two hosts: each routed exactly once."""
    servers, nginx = hosts
    app = setup_app(servers[0])
    figures = duplicate_storm(nginx.url + app.webhook_path, database_url, app.id,
                              verify=str(nginx.cert))
    split = per_host(servers, "POST", app.webhook_path, figures["sent"])
    figures["per_host"] = shares(split)
    print(figures_line("duplicate storm across hosts", figures, (*STORM_FIGURES, "per_host")))
    assert_storm_exactly_once(figures)
    assert_both_served(split, figures["sent"])


def test_waitbox_race_across_hosts(hosts, database_url):
    """50 waitboxes opened through nginx, 200 concurrent replies through nginx to two hosts:
    each waitbox answered exactly once, 150 replies to Doorkeeper."""
    servers, nginx = hosts
    app = setup_app(servers[0], [f"person-{i}" for i in range(50)], nginx.url,
                    verify=str(nginx.cert))
    token = servers[1].cli_json("tokens", "create", "--name", "agents",
                                "--scope", "agent")["token"]
    race = waitbox_race(nginx.url, app, token, verify=str(nginx.cert))
    opened = per_host(servers, "POST", "/api/v1/waitboxes", race["waitboxes"])
    replies = per_host(servers, "POST", app.webhook_path, race["replies"])
    race["waitboxes_per_host"], race["replies_per_host"] = shares(opened), shares(replies)
    print(figures_line("waitbox race across hosts", race,
                       (*RACE_FIGURES, "waitboxes_per_host", "replies_per_host")))
    assert_each_waitbox_answered_once(race)
    assert_both_served(opened, race["waitboxes"])
    assert_both_served(replies, race["replies"])
    counts = outcome_counts(database_url, app.id)
    assert counts.get("routed") == race["replies"] and counts["keys_routed_twice"] == 0


def kill_host(server) -> list[int]:
    """``kill -9`` a host's gunicorn: its master first (so it starts no new worker), then the
    workers it had; returns the pids killed once the master is gone."""
    workers = worker_pids(server.process.pid)
    os.kill(server.process.pid, signal.SIGKILL)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait(10)
    return [server.process.pid, *workers]


def test_host_killed_mid_load_loses_nothing_acknowledged(hosts, database_url):
    """One host killed after 150 of 600 deliveries were acknowledged: retried as a platform
    would, every message is acknowledged, stored and routed exactly once."""
    servers, nginx = hosts
    survivor, victim = servers
    app = setup_app(survivor)
    ids = [f"host-crash-{i}" for i in range(600)]
    sender = RetryingSender(nginx.url + app.webhook_path, verify=str(nginx.cert))
    killed, killed_after = [], []

    def killer():
        wait_until(lambda: len(sender.acknowledged), lambda n: n >= 150, timeout=60)
        killed_after.append(len(sender.acknowledged))
        killed.extend(kill_host(victim))

    started = time.monotonic()
    thread = in_background(killer)
    sender.send(ids)
    thread.join()
    elapsed = time.monotonic() - started
    counts = outcome_counts(database_url, app.id)
    split = [served(server, "POST", app.webhook_path) for server in (survivor, victim)]
    print(f"\nhost killed across hosts: sent={len(ids)} killed={killed} "
          f"after_acknowledged={killed_after} "
          f"acknowledged={len(sender.acknowledged)} "
          f"first_try_failures={sender.first_try_failures} "
          f"failed_answers={dict(sender.failed_statuses)} "
          f"5xx={server_errors(sender.failed_statuses.elements())} "
          f"routed={counts.get('routed')} duplicate={counts.get('duplicate', 0)} "
          f"seconds={elapsed:.1f} per_host(survivor/victim)={shares(split)}")
    assert killed and killed_after[0] < len(ids), "the victim was not killed mid-load"
    assert sender.acknowledged == set(ids)
    assert sender.acknowledged <= routed_keys(database_url, app.id)
    assert counts.get("routed") == len(ids)
    assert counts["keys_routed_twice"] == 0
    # Both hosts took deliveries: the victim before it died, the survivor all the rest.
    assert split[1] > 0 and split[0] >= len(ids) // 2, split
    # Every failed answer came from the dead host, through nginx: a 502 for a request it had
    # sent there, or an answer cut off mid-way (nginx was relaying it when the host died).
    assert set(sender.failed_statuses) <= {502, "ChunkedEncodingError"}, sender.failed_statuses
