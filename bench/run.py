"""orqo's benchmark: orqo (SQLite, PostgreSQL) against the floor (bare Flask) and the peer (bolt).

Every target runs under gunicorn with the repository's ``gunicorn.conf.py`` (same workers), on
loopback, one after another. The load is correctly signed Slack ``event_callback`` DMs from
registered Contacts, each with a fresh ``event_id`` and ``ts``, signed right before each run.
The load generator is wrk with ``bench/load.lua`` (requests pre-signed into a file, since wrk's
Lua has no HMAC), or a Python fallback (``--generator python``, used by ``--smoke`` when wrk is
missing). The generator's own CPU time is measured and reported.

    python bench/run.py            # the full run (minutes)
    python bench/run.py --smoke    # tiny data, ~2 s of load per target, PostgreSQL optional
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from datetime import timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
BIN = os.path.dirname(sys.executable)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0BENCH"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_DB = "orqo_bench"
CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def busy_cpu_seconds() -> float:
    """CPU time the whole machine spent busy (all processes), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / CLK  # minus idle and iowait


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data


def sender_of(i: int) -> str:
    return f"{TEAM}:U{i:09d}"


def orqo_env(db_url: str | None, instance: str) -> dict:
    env = dict(os.environ)
    env.update(ORQO_INSTANCE_PATH=instance, ORQO_SENDER_RATE_LIMIT="0", ORQO_LOG_LEVEL="WARNING")
    env.pop("ORQO_DATABASE_URL", None)
    if db_url:
        env["ORQO_DATABASE_URL"] = db_url
    return env


def pg_available() -> bool:
    try:
        import psycopg
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means: no PostgreSQL here
        return False


def pg_recreate() -> str:
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {PG_DB}")
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DB


def build_database(env: dict, n_apps: int, n_contacts: int, n_waitboxes: int) -> list[str]:
    """``orqo init-db``, then Apps through the service and Contacts/waitboxes in bulk. App ids."""
    subprocess.run([os.path.join(BIN, "orqo"), "init-db"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    code = f"""
import json, sys
from datetime import datetime, timedelta, timezone
from sqlalchemy import insert, text
from orqo import create_app
from orqo.extensions import db
from orqo.models import Contact, ContactChannel
from orqo.models.routing import Waitbox
from orqo.services.apps import create_app_record
n_apps, n_contacts, n_waitboxes = {n_apps}, {n_contacts}, {n_waitboxes}
app = create_app()
with app.app_context():
    ids = [create_app_record(f"bench-{{k}}", "slack", {{"SLACK_SIGNING_SECRET": {SECRET!r}}}, {{}}).id
           for k in range(n_apps)]
    now = datetime.now(timezone.utc)
    chunk = 20000
    for start in range(0, n_contacts, chunk):
        rows = range(start, min(n_contacts, start + chunk))
        db.session.execute(insert(Contact.__table__),
                           [{{"id": i + 1, "name": f"Contact {{i}}", "created_at": now}} for i in rows])
        db.session.execute(insert(ContactChannel.__table__),
                           [{{"contact_id": i + 1, "app_id": ids[i % n_apps],
                             "sender_id": "{TEAM}:U%09d" % i}} for i in rows])
        db.session.commit()
    # Open waitboxes for Contacts other than the ones the load writes as (ids above n_contacts/2).
    half = max(1, n_contacts // 2)
    for start in range(0, n_waitboxes, chunk):
        rows = range(start, min(n_waitboxes, start + chunk))
        db.session.execute(insert(Waitbox.__table__), [
            {{"app_id": ids[(half + i % max(1, n_contacts - half)) % n_apps],
              "contact_id": half + i % max(1, n_contacts - half) + 1, "thread_id": None,
              "reference": f"wb-{{i}}", "status": "waiting",
              "expires_at": now + timedelta(days=30), "created_at": now}} for i in rows])
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('contacts', 'id'), :n)"),
                           {{"n": max(1, n_contacts)}})
        db.session.commit()
    print(json.dumps(ids))
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def delivery(app_ids: list[str], i: int, seq: int, run: str) -> tuple[str, bytes]:
    """The path and body of a DM from Contact ``i`` (fresh event_id and ts per ``seq``)."""
    from orqo_slack.testing import envelope, message_event
    ts = f"{1717000000 + seq}.{seq % 1000000:06d}"
    channel = f"D{i:09d}"
    event = message_event(text=f"Bench message {seq} – prüfen? 📊", ts=ts, channel=channel,
                          user=f"U{i:09d}", team=TEAM)
    body = json.dumps(envelope(event, event_id=f"Ev{run}{seq:09d}", team_id=TEAM,
                               context_team_id=TEAM), ensure_ascii=False).encode()
    return f"/api/v1/webhooks/{app_ids[i % len(app_ids)]}", body


def sign(body: bytes, ts: str) -> str:
    return "v0=" + hmac.new(SECRET.encode(), b"v0:" + ts.encode() + b":" + body,
                            hashlib.sha256).hexdigest()


def write_requests(path: str, app_ids: list[str], n_contacts: int, count: int, run: str,
                   contacts: range | None = None) -> None:
    """Pre-sign ``count`` deliveries from random registered Contacts, timestamped now."""
    contacts = contacts or range(0, max(1, n_contacts // 2))
    ts = str(int(time.time()))
    rnd = random.Random(run)
    with open(path, "w", encoding="utf-8") as out:
        for seq in range(count):
            url, body = delivery(app_ids, rnd.choice(contacts), seq, run)
            out.write(f"{url}\t{ts}\t{sign(body, ts)}\t{body.decode()}\n")


# ---------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with the repository's gunicorn.conf.py, on loopback."""

    def __init__(self, module: str, env: dict, chdir: str = ROOT):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log",
                                               delete=False)
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "gunicorn"), "-c", os.path.join(ROOT, "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}", "--chdir", chdir, module],
            env={**env, "ORQO_LOG_LEVEL": "WARNING"}, cwd=ROOT, stdout=self.log,
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
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


# ---------------------------------------------------------------- load


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


# ---------------------------------------------------------------- measurements


class Bench:
    def __init__(self, args):
        self.args = args
        self.generator = args.generator
        if self.generator == "auto":
            self.generator = "wrk" if shutil.which("wrk") else "python"
        self.tmp = tempfile.mkdtemp(prefix="orqo-bench-")
        self.rows, self.notes, self.scaling, self.memory, self.trips = [], [], [], [], []
        self.run_no = 0

    def save(self):
        """Write the report so far (a run cut short still leaves its figures)."""
        with open(self.args.output, "w", encoding="utf-8") as f:
            f.write(self.report())

    def load(self, server, app_ids, n_contacts, duration, connections, pace_ms=0.0, count=None):
        self.run_no += 1
        run = f"{os.getpid() % 10000:04d}{self.run_no:03d}"
        path = os.path.join(self.tmp, f"requests-{run}.tsv")
        count = count or int(self.args.max_rate * duration) + 100
        write_requests(path, app_ids, n_contacts, count, run)
        cpu0, busy0, wall0 = server.cpu_seconds(), busy_cpu_seconds(), time.time()
        fn = run_wrk if self.generator == "wrk" else run_python
        result = fn(server.port, path, duration, connections, pace_ms)
        wall = time.time() - wall0
        result["server_cpu"] = (server.cpu_seconds() - cpu0) / wall
        # Everything else on the machine (other processes compete for the same cores).
        result["other_cpu"] = max(0.0, (busy_cpu_seconds() - busy0) / wall - result["server_cpu"]
                                  - result["gen_cpu"] / wall)
        result["gen_cpu_pct"] = 100 * result["gen_cpu"] / wall
        result["cycled"] = result["requests"] > count
        os.unlink(path)
        return result

    def target(self, name, server, app_ids, n_contacts, peak=True, memory=False):
        a = self.args
        warm = self.load(server, app_ids, n_contacts, a.warmup, a.connections)
        rss_warm, delivered = server.rss_mib(), warm["requests"]
        res = self.load(server, app_ids, n_contacts, a.duration, a.connections)
        delivered += res["requests"]
        res["name"] = name
        if peak:
            # Half of the peak rate: each connection waits connections/(rate/2) between requests.
            rate = res["rps"] / 2
            pace = max(0.0, 1e3 * a.connections / rate - res["p50"])
            half = self.load(server, app_ids, n_contacts, a.duration, a.connections, pace)
            delivered += half["requests"]
            res["half_rps"], res["half_p99"] = half["rps"], half["p99"]
        if memory:
            extra = max(0, a.memory_deliveries - delivered)
            if extra:
                dur = extra / max(1.0, res["rps"]) * 1.05
                more = self.load(server, app_ids, n_contacts, dur, a.connections,
                                 count=extra + 100)
                delivered += more["requests"]
            self.memory.append({"name": name, "after1": warm["requests"], "rss1": rss_warm,
                                "after2": delivered, "rss2": server.rss_mib()})
        self.rows.append(res)
        log(f"  {name}: {res['rps']:.0f} req/s p50 {res['p50']:.1f} ms p99 {res['p99']:.1f} ms "
            f"errors {res['errors']} generator CPU {res['gen_cpu_pct']:.0f}%")
        return res

    def round_trips(self, name, env, app_ids):
        code = f"""
import json, sys
sys.path.insert(0, {BENCH!r})
from sqlalchemy import event
from orqo import create_app
from orqo.extensions import db
import run as bench
app = create_app()
statements = []
# No outer app context: each test-client request gets its own, as under gunicorn, so the
# session is removed after each request and the count starts with the request's own BEGIN.
with app.app_context():
    engine = db.engine
if True:
    path, body = bench.delivery({app_ids!r}, 0, 999999, "trips")
    import time
    ts = str(int(time.time()))
    client = app.test_client()
    # warm once (a different message), then count one routed delivery
    p2, b2 = bench.delivery({app_ids!r}, 0, 999998, "trips")
    client.post(p2, data=b2, headers={{"Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": bench.sign(b2, ts)}})
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cur, stmt, params, ctx, many: statements.append(stmt.split()[0] + " " + " ".join(stmt.split()[1:6])))
    r = client.post(path, data=body, headers={{"Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": bench.sign(body, ts)}})
    print(json.dumps({{"status": r.status_code, "statements": statements}}))
"""
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, cwd=ROOT)
        if out.returncode:
            self.notes.append(f"round trips ({name}) failed: {out.stderr[-500:]}")
            return
        data = json.loads(out.stdout.strip().splitlines()[-1])
        self.trips.append({"name": name, **data})

    def orqo(self, name, db_url, n_contacts, n_waitboxes, full=True):
        a = self.args
        instance = tempfile.mkdtemp(prefix="orqo-instance-", dir=self.tmp)
        if db_url:
            db_url = pg_recreate()
        env = orqo_env(db_url, instance)
        t0 = time.time()
        app_ids = build_database(env, a.apps, n_contacts, n_waitboxes)
        log(f"  {name}: {a.apps} Apps, {n_contacts} Contacts, {n_waitboxes} waitboxes "
            f"built in {time.time() - t0:.0f} s")
        if full:
            self.round_trips(name, env, app_ids)
        server = Server("wsgi:app", env)
        try:
            if full:
                return self.target(name, server, app_ids, n_contacts, memory=True)
            self.load(server, app_ids, n_contacts, a.warmup, a.connections)
            return self.load(server, app_ids, n_contacts, a.scale_duration, a.connections)
        finally:
            server.stop()

    def plain(self, name, module):
        env = {**os.environ, "BENCH_SIGNING_SECRET": SECRET}
        server = Server(module, env, chdir=BENCH)
        try:
            return self.target(name, server, ["A0BENCH%04d" % k for k in range(self.args.apps)],
                               self.args.contacts, peak=False)
        finally:
            server.stop()

    def run(self):
        a = self.args
        log(f"generator: {self.generator}; {Server.expected_workers()} gunicorn workers")
        if a.only_scaling:
            a.pg = False
            return self.run_scaling()
        self.orqo("orqo SQLite", None, a.contacts, a.waitboxes)
        if a.pg:
            self.orqo("orqo PostgreSQL", "pg", a.contacts, a.waitboxes)
        else:
            self.notes.append("PostgreSQL skipped (not reachable or --no-pg).")
        self.plain("floor (bare Flask)", "floor_app:app")
        self.save()
        try:
            import slack_bolt  # noqa: F401
        except ImportError:
            self.notes.append("slack_bolt is not installed: no peer row (pip install -e '.[bench]').")
        else:
            self.plain("slack_bolt (Flask adapter)", "bolt_app:app")
        self.save()
        return self.run_scaling()

    def run_scaling(self):
        a = self.args
        for n in a.contact_scale:
            r = self.orqo(f"contacts={n}", None, n, min(a.scale_waitboxes, n // 2), full=False)
            self.scaling.append(("Contacts", n, r))
            self.save()
        for n in a.waitbox_scale:
            contacts = max(a.scale_contacts, 2 * n // 10)
            r = self.orqo(f"waitboxes={n}", None, contacts, n, full=False)
            self.scaling.append(("open waitboxes", n, r))
            self.save()
        if a.pg and a.pg_scale:
            for n in a.contact_scale:
                r = self.orqo(f"PG contacts={n}", "pg", n, min(a.scale_waitboxes, n // 2), full=False)
                self.scaling.append(("Contacts (PostgreSQL)", n, r))
        shutil.rmtree(self.tmp, ignore_errors=True)
        return self.report()

    def report(self) -> str:
        a = self.args
        by = {r["name"]: r for r in self.rows}
        lines = [f"# orqo benchmark ({'smoke' if a.smoke else 'full'} run, "
                 f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
                 f"gunicorn `-c gunicorn.conf.py`, {Server.expected_workers()} sync workers; "
                 f"generator {self.generator} ({a.connections} connections, {a.duration:g} s per "
                 f"target after {a.warmup:g} s warm-up); {a.apps} Apps, {a.contacts} Contacts, "
                 f"{a.waitboxes} open waitboxes.", "",
                 "| target | req/s | p50 ms | p99 ms | errors | req/s at ½ peak | p99 ms at ½ peak "
                 "| server CPU (cores) | generator CPU | other processes' CPU (cores) |",
                 "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for r in self.rows:
            half = (f"{r['half_rps']:.0f} | {r['half_p99']:.1f}" if "half_rps" in r else "– | –")
            lines.append(f"| {r['name']} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | "
                         f"{r['errors']}{' (cycled)' if r['cycled'] else ''} | {half} | "
                         f"{r['server_cpu']:.2f} | {r['gen_cpu_pct']:.0f}% | "
                         f"{r.get('other_cpu', 0):.2f} |")
        floor, bolt = by.get("floor (bare Flask)"), by.get("slack_bolt (Flask adapter)")
        lines += ["", "| ratio | throughput | target |", "|---|---:|---|"]
        for name, want_bolt in (("orqo SQLite", 1.0), ("orqo PostgreSQL", 0.8)):
            if name in by:
                if floor:
                    ratio = by[name]["rps"] / floor["rps"]
                    lines.append(f"| {name} / floor | {ratio:.2f}x | ≥ 0.6x: "
                                 f"{'met' if ratio >= 0.6 else 'not met'} |")
                if bolt:
                    ratio = by[name]["rps"] / bolt["rps"]
                    lines.append(f"| {name} / bolt | {ratio:.2f}x | ≥ {want_bolt}x: "
                                 f"{'met' if ratio >= want_bolt else 'not met'} |")
        if self.scaling:
            lines += ["", "| data size (SQLite unless stated) | n | req/s | p50 ms | p99 ms | "
                      "p50 vs smallest | other processes' CPU (cores) |",
                      "|---|---:|---:|---:|---:|---:|---:|"]
            base = {}
            for kind, n, r in self.scaling:
                base.setdefault(kind, r["p50"])
                lines.append(f"| {kind} | {n:,} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} "
                             f"| {r['p50'] / base[kind]:.2f}x | {r.get('other_cpu', 0):.2f} |")
        if self.trips:
            lines += ["", "| database round trips for one routed DM | status | statements |",
                      "|---|---:|---:|"]
            for t in self.trips:
                lines.append(f"| {t['name']} | {t['status']} | {len(t['statements'])} |")
            lines += ["", "Statements (first target): " + "; ".join(
                f"`{s}`" for s in self.trips[0]["statements"])]
        if self.memory:
            lines += ["", "| worker RSS (MiB, per worker) | after n deliveries | RSS | "
                      "after n deliveries | RSS | growth |", "|---|---:|---|---:|---|---:|"]
            for m in self.memory:
                r1 = ", ".join(f"{x:.0f}" for x in m["rss1"])
                r2 = ", ".join(f"{x:.0f}" for x in m["rss2"])
                g = (max(m["rss2"]) / max(m["rss1"]) - 1) * 100 if m["rss1"] and m["rss2"] else 0
                lines.append(f"| {m['name']} | {m['after1']:,} | {r1} | {m['after2']:,} | {r2} "
                             f"| {g:+.0f}% |")
        if self.notes:
            lines += [""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="tiny data, ~2 s per target")
    p.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--apps", type=int, default=100)
    p.add_argument("--contacts", type=int, default=100_000)
    p.add_argument("--waitboxes", type=int, default=1000)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--duration", type=float, default=20)
    p.add_argument("--warmup", type=float, default=3)
    p.add_argument("--scale-duration", type=float, default=8)
    p.add_argument("--max-rate", type=float, default=1500,
                   help="requests pre-signed per second of load (orqo must not exceed it)")
    p.add_argument("--contact-scale", type=lambda s: [int(x) for x in s.split(",") if x],
                   default=[1000, 100_000, 1_000_000])
    p.add_argument("--waitbox-scale", type=lambda s: [int(x) for x in s.split(",") if x],
                   default=[100, 100_000])
    p.add_argument("--scale-contacts", type=int, default=10_000)
    p.add_argument("--scale-waitboxes", type=int, default=100)
    p.add_argument("--memory-deliveries", type=int, default=100_000)
    p.add_argument("--no-pg", dest="pg", action="store_false")
    p.add_argument("--only-scaling", action="store_true",
                   help="only the data-size runs (Contacts, waitboxes)")
    p.add_argument("--pg-scale", action="store_true", help="also scale Contacts on PostgreSQL")
    p.add_argument("--output", default=os.path.join(BENCH, "last-run.md"))
    a = p.parse_args(argv)
    if a.smoke:
        a.apps, a.contacts, a.waitboxes = min(a.apps, 3), min(a.contacts, 200), min(a.waitboxes, 10)
        a.duration, a.warmup, a.scale_duration, a.connections = 2, 1, 1, 4
        a.contact_scale, a.waitbox_scale, a.scale_contacts = [100], [10], 100
        a.memory_deliveries, a.max_rate = 0, 1000
        if a.output == os.path.join(BENCH, "last-run.md"):
            a.output = os.path.join(tempfile.gettempdir(), f"orqo-bench-smoke-{os.getpid()}.md")
    if a.pg and not pg_available():
        a.pg = False
    report = Bench(a).run()
    print(report)
    with open(a.output, "w", encoding="utf-8") as f:
        f.write(report)
    log(f"written to {a.output}")


if __name__ == "__main__":
    main()
