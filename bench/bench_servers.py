"""The processes under load: gunicorn on loopback, and their CPU and memory from /proc.

``run.py``'s ``Bench`` starts a :class:`Server` per target (orqo's ``wsgi:app`` with the
environment from ``bench_seed``, or ``floor_app``/``bolt_app`` in bench/), points a load
generator from ``bench_generators`` at its port, and reads its CPU time and worker RSS here,
next to the whole machine's busy CPU (:func:`busy_cpu_seconds`).
"""
from __future__ import annotations

import http.client
import os
import subprocess
import tempfile
import time

from bench_common import BIN
from bench_common import ROOT

from orqo.testing.server import free_port
from orqo.testing.server import stop_process

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (all processes), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLK  # minus idle and iowait


class Server:
    """gunicorn with the repository's gunicorn.conf.py, on loopback."""

    def __init__(self, module: str, env: dict, chdir: str = ROOT):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "gunicorn"), "-c", os.path.join(ROOT, "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}", "--chdir", chdir, module],
            env=env, cwd=ROOT, stdout=self.log,
            stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn {module} exited: {open(self.log.name).read()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/")
                conn.getresponse().read()
                if len(self.workers()) >= self.expected_workers():
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"gunicorn {module} did not start")
        time.sleep(0.5)

    @staticmethod
    def expected_workers() -> int:
        return int(os.environ.get("ORQO_WORKERS", max(2, (os.cpu_count() or 1) * 2)))

    def workers(self) -> list[int]:
        try:
            with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def rss_mib(self) -> list[float]:
        sizes = []
        for pid in self.workers():
            try:
                with open(f"/proc/{pid}/statm") as f:
                    sizes.append(int(f.read().split()[1]) * PAGE / 2**20)
            except OSError:
                pass
        return sizes

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in [self.proc.pid, *self.workers()]:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / CLK
            except OSError:
                pass
        return total

    def stop(self):
        stop_process(self.proc, grace=30)
        try:
            os.unlink(self.log.name)
        except OSError:
            pass
