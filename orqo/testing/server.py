"""A real orqo server for tests: gunicorn on loopback with ``gunicorn.conf.py``, and the
``orqo`` command line as a subprocess, sharing one instance folder and database."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

CHECKOUT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process(process: subprocess.Popen | None, grace: float = 10.0,
                 group: bool = False) -> None:
    """Stop ``process`` if it runs: TERM, then KILL after ``grace`` seconds. With ``group``,
    the KILL goes to its whole process group (a server started with ``start_new_session``
    whose workers must not outlive it)."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        if group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(5)


class OrqoServer:
    """gunicorn serving ``wsgi:app`` from the checkout, as the README and production start it.

    :param instance_path: the instance folder (SQLite lives there unless ``database_url``).
    :param database_url: the database, shared with :meth:`cli`.
    :param workers: gunicorn workers.
    :param env: extra environment (``ORQO_*`` settings).
    """

    def __init__(self, instance_path, database_url=None, workers=2, env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ)
        self.env.pop("ORQO_DATABASE_URL", None)
        self.env["ORQO_INSTANCE_PATH"] = str(instance_path)
        if database_url:
            self.env["ORQO_DATABASE_URL"] = database_url
        self.env.update(env or {})
        self.workers = workers
        self.log_path = Path(instance_path) / "gunicorn.log"
        self.process = None

    def cli(self, *args, check=True) -> subprocess.CompletedProcess:
        """Run ``orqo ARGS`` against the same instance and database."""
        orqo = Path(sys.executable).with_name("orqo")
        result = subprocess.run([str(orqo), *args], env=self.env, capture_output=True, text=True,
                                timeout=60, cwd=CHECKOUT)
        if check and result.returncode != 0:
            raise AssertionError(f"orqo {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result

    def cli_json(self, *args):
        """Run ``orqo ARGS`` and parse its JSON output."""
        return json.loads(self.cli(*args).stdout)

    def start(self, timeout=30.0) -> OrqoServer:
        """Start gunicorn and wait until ``/healthz`` answers."""
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [str(gunicorn), "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "wsgi:app"],
            cwd=CHECKOUT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:  # not listening yet, or still booting workers
                time.sleep(0.1)
        self.stop()
        raise AssertionError(f"gunicorn did not answer within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        """Stop gunicorn (TERM, then KILL after 10 s)."""
        stop_process(self.process)
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        """What gunicorn and orqo logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def make_server(database_url, tmp_path):
    """Factory: ``make_server(workers=2, env=None)`` returns a started :class:`OrqoServer` whose
    database is initialised; every server is stopped after the test."""
    servers = []

    def factory(workers=2, env=None):
        instance = tmp_path / f"instance-{len(servers)}"
        instance.mkdir()
        server = OrqoServer(instance, database_url, workers=workers, env=env)
        servers.append(server)
        server.cli("init-db")
        return server.start()

    yield factory
    for server in servers:
        server.stop()
