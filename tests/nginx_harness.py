"""The real nginx of ``deploy/nginx.conf`` for tests, in front of one or several gunicorns.

nginx runs with the production file, changed only where a test must: its listen ports (loopback,
free ports), the upstream (one ``server`` line per test gunicorn), the certificate (a throw-away
self-signed one) and its log, pid and temporary paths (the test's directory). Every replaced
text must occur exactly once in the production file, so a change there fails loudly here
instead of testing something else. Everything listens on 127.0.0.1 and every wait is bounded.

Test modules use :data:`REQUIRES_NGINX` as their ``pytestmark`` and import the ``make_nginx``
fixture from here.
"""
from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests

from orqo.testing.server import free_port
from orqo.testing.server import stop_process

NGINX = "/usr/sbin/nginx"
CONF = Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf"

REQUIRES_NGINX = [
    pytest.mark.skipif(not os.path.exists(NGINX),
                       reason=f"{NGINX} is not installed (.ci/run installs it: apt-get install "
                              "nginx-light)"),
    pytest.mark.skipif(shutil.which("openssl") is None,
                       reason="openssl is needed for the test's self-signed certificate"),
]


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with ``old`` replaced by ``new``; ``old`` must occur exactly once, so that a
    change to deploy/nginx.conf fails here loudly instead of testing something else."""
    assert text.count(old) == 1, f"deploy/nginx.conf should contain {old!r} exactly once"
    return text.replace(old, new)


def wait_until(get, ready, timeout: float = 10.0):
    """``get()`` once ``ready(get())`` holds, or its last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    value = get()
    while not ready(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = get()
    return value


class Nginx:
    """nginx running deploy/nginx.conf, in the foreground, from a directory of its own, with
    ``upstream orqo`` listing the gunicorns on ``upstream_ports`` (round-robin, nginx's
    default)."""

    def __init__(self, directory: Path, upstream_ports: list[int]):
        self.dir = directory
        self.dir.mkdir()
        self.https_port, self.http_port = free_port(), free_port()
        self.url = f"https://127.0.0.1:{self.https_port}"
        self.http_url = f"http://127.0.0.1:{self.http_port}"
        self.cert, self.key = self.dir / "cert.pem", self.dir / "key.pem"
        self.access_log = self.dir / "orqo.access.log"
        self.error_log = self.dir / "error.log"
        self.process = None
        self._output = None
        self._make_certificate()
        self.site = self.dir / "orqo.conf"
        self.site.write_text(self._site(upstream_ports))
        self.main = self.dir / "nginx.conf"
        self.main.write_text(self._main())

    def _make_certificate(self) -> None:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(self.key), "-out", str(self.cert)],
            check=True, capture_output=True, timeout=30)

    def _site(self, upstream_ports: list[int]) -> str:
        assert upstream_ports, "nginx needs at least one upstream"
        servers = "\n    ".join(f"server 127.0.0.1:{port};" for port in upstream_ports)
        text = CONF.read_text()
        for old, new in [
            ("server 127.0.0.1:8000;", servers),
            ("    listen 80;\n", f"    listen 127.0.0.1:{self.http_port};\n"),
            ("    listen [::]:80;\n", ""),
            ("    listen 443 ssl;\n", f"    listen 127.0.0.1:{self.https_port} ssl;\n"),
            ("    listen [::]:443 ssl;\n", ""),
            ("/etc/letsencrypt/live/orqo.example.com/fullchain.pem", str(self.cert)),
            ("/etc/letsencrypt/live/orqo.example.com/privkey.pem", str(self.key)),
        ]:
            text = replace_once(text, old, new)
        assert text.count("/var/log/nginx/orqo.access.log") == 2
        return text.replace("/var/log/nginx/orqo.access.log", str(self.access_log))

    def _main(self) -> str:
        """What /etc/nginx/nginx.conf provides around the file, with the test's own paths."""
        temp = {name: self.dir / name for name in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                   "scgi")}
        # Run as root (CI does), nginx would start its workers as "nobody", who cannot enter
        # pytest's 0700 temporary directories; the production file itself needs no `user`.
        user = "user root;\n" if os.geteuid() == 0 else ""
        return (
            "daemon off;\n"
            "worker_processes 1;\n"
            f"{user}"
            f"pid {self.dir / 'nginx.pid'};\n"
            f"error_log {self.error_log} info;\n"
            "events { worker_connections 128; }\n"
            "http {\n"
            + "".join(f"    {name}_temp_path {path};\n" for name, path in temp.items())
            + f"    include {self.site};\n"
            "}\n"
        )

    def start(self, timeout: float = 15.0) -> Nginx:
        """Check the configuration, start nginx, and wait until it answers on both ports."""
        command = [NGINX, "-p", str(self.dir), "-c", str(self.main)]
        check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, f"nginx -t failed:\n{check.stderr}"
        self._output = open(self.dir / "nginx.out", "ab")
        self.process = subprocess.Popen(command, stdout=self._output, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"nginx exited:\n{self.logs()}")
            if all(self._listening(port) for port in (self.https_port, self.http_port)):
                return self
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"nginx did not listen within {timeout}s:\n{self.logs()}")

    @staticmethod
    def _listening(port: int) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        """Fast shutdown (TERM) of the master and its workers; KILL the group after 10 s."""
        stop_process(self.process, group=True)
        if self._output:
            self._output.close()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """An HTTPS request to nginx, checked against the test's certificate."""
        kwargs.setdefault("timeout", 15)
        return requests.request(method, self.url + path, verify=str(self.cert), **kwargs)

    def raw_post(self, path: str, body: bytes) -> int:
        """POST ``path`` exactly as written (requests would decode escapes such as ``%68``)."""
        context = ssl.create_default_context(cafile=str(self.cert))
        connection = http.client.HTTPSConnection("127.0.0.1", self.https_port, timeout=15,
                                                 context=context)
        try:
            connection.request("POST", path, body=body,
                               headers={"Content-Type": "application/json"})
            return connection.getresponse().status
        finally:
            connection.close()

    def access_lines(self) -> list[dict]:
        """The access log, parsed (one JSON object per line: the `orqo` log_format)."""
        text = self.access_log.read_text() if self.access_log.exists() else ""
        return [json.loads(line) for line in text.splitlines()]

    def wait_for_access_lines(self, predicate, count: int = 1) -> list[dict]:
        """The access-log lines matching ``predicate``, once there are ``count`` of them. nginx
        writes a request's line when it is done with it, which can be just after the client
        has its answer (after draining a refused body, for one)."""
        lines = wait_until(lambda: [line for line in self.access_lines() if predicate(line)],
                           lambda found: len(found) >= count)
        assert len(lines) >= count, f"nginx's access log:\n{self.access_log.read_text()}"
        return lines

    def logs(self) -> str:
        """nginx's output and error log."""
        return "\n".join(path.read_text(errors="replace")
                         for path in (self.dir / "nginx.out", self.error_log) if path.exists())


@pytest.fixture
def make_nginx(tmp_path):
    """Factory: ``make_nginx(*servers)`` starts nginx in front of those OrqoServers (one
    ``server`` line each in ``upstream orqo``); every nginx is stopped after the test."""
    started = []

    def factory(*servers) -> Nginx:
        nginx = Nginx(tmp_path / f"nginx-{len(started)}", [server.port for server in servers])
        started.append(nginx)
        return nginx.start()

    yield factory
    for nginx in started:
        nginx.stop()
