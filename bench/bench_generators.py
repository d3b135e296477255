"""The load generators: wrk with ``load.lua``, or a Python fallback, each returning one result.

Both replay a request file written by ``bench_requests`` against a ``bench_servers.Server`` port
for a duration, over a number of connections (optionally paced), and return the same dict:
requests, seconds, rps, p50/p99 in ms, errors and the generator's own CPU time. ``run.py``'s
``Bench.load`` picks one and adds the server's and the machine's CPU to the result.
"""
from __future__ import annotations

import http.client
import os
import re
import subprocess
import threading
import time

from bench_common import BENCH


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * UNITS[unit]


def run_wrk(port: int, requests_file: str, duration: float, connections: int,
            pace_ms: float = 0.0) -> dict:
    threads = 1
    env = {**os.environ, "BENCH_REQUESTS": requests_file, "BENCH_THREADS": str(threads),
           "BENCH_PACE_MS": str(pace_ms)}
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, int(duration))}s",
           "--timeout", "10s", "--latency", "-s", os.path.join(BENCH, "load.lua"),
           f"http://127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = status
    if status:
        raise RuntimeError(f"wrk failed: {out}")
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    total = int(m.group(1))
    elapsed = _ms(m.group(2) + m.group(3)) / 1e3
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", out, re.M))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": total, "seconds": elapsed, "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(lat["50"]), "p99": _ms(lat["99"]),
        "errors": int(non2xx.group(1)) if non2xx else 0, "socket_errors": errors.group(1) if errors else "",
        "gen_cpu": usage.ru_utime + usage.ru_stime, "generator": "wrk",
    }


def run_python(port: int, requests_file: str, duration: float, connections: int,
               pace_ms: float = 0.0) -> dict:
    """A small closed-loop generator: ``connections`` threads, one request at a time each."""
    with open(requests_file, encoding="utf-8") as f:
        lines = [line.rstrip("\n").split("\t", 3) for line in f]
    latencies, errors, lock = [], [0], threading.Lock()
    cpu0 = time.process_time()
    stop_at = time.perf_counter() + duration

    def worker(tid):
        mine, n = lines[tid::connections] or lines, 0
        while time.perf_counter() < stop_at:
            path, ts, sig, body = mine[n % len(mine)]
            n += 1
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("POST", path, body.encode(), {
                    "Content-Type": "application/json", "X-Slack-Request-Timestamp": ts,
                    "X-Slack-Signature": sig})
                status = conn.getresponse().status
                conn.close()
            except OSError:
                status = 0
            took = (time.perf_counter() - start) * 1e3
            with lock:
                latencies.append(took)
                if not 200 <= status < 400:
                    errors[0] += 1
            if pace_ms:
                time.sleep(pace_ms / 1e3)

    began = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0.0  # noqa: E731
    return {"requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
            "p50": pick(0.50), "p99": pick(0.99), "errors": errors[0], "socket_errors": "",
            "gen_cpu": time.process_time() - cpu0, "generator": "python"}
