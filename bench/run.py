"""orqo's benchmark: orqo (SQLite, PostgreSQL) against the floor (bare Flask) and the peer (bolt).

Every target runs under gunicorn with the repository's ``gunicorn.conf.py`` (same workers), on
loopback, one after another. The load is correctly signed Slack ``event_callback`` DMs from
registered Contacts, each with a fresh ``event_id`` and ``ts``, signed right before each run.
The load generator is wrk with ``bench/load.lua`` (requests pre-signed into a file, since wrk's
Lua has no HMAC), or a Python fallback (``--generator python``, used by ``--smoke`` when wrk is
missing). The generator's own CPU time is measured and reported.

    python bench/run.py            # the full run (minutes)
    python bench/run.py --smoke    # tiny data, ~2 s of load per target, PostgreSQL optional

How the parts fit: ``bench_seed`` builds each orqo database, ``bench_requests`` pre-signs the
deliveries, ``bench_servers`` runs gunicorn and reads its CPU and memory, ``bench_generators``
drives the load (wrk or Python); ``bench_common`` holds what they share. This file holds
``Bench``, which runs the targets and the data-size runs with those parts and writes the
report, and ``main()``, the command line.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from datetime import timezone

from bench_common import BENCH
from bench_common import ROOT
from bench_common import SECRET
from bench_common import log
from bench_generators import run_python
from bench_generators import run_wrk
from bench_requests import write_requests
from bench_seed import build_database
from bench_seed import orqo_env
from bench_seed import pg_available
from bench_seed import pg_recreate
from bench_servers import Server
from bench_servers import busy_cpu_seconds


LEAN_SQLITE = "lean durable reference, SQLite"
LEAN_PG = "lean durable reference, PostgreSQL"


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
import bench_requests as bench
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
    # BEGIN and COMMIT are not counted (the issue's definition of a statement).
    event.listen(engine, "before_cursor_execute",
                 lambda conn, cur, stmt, params, ctx, many: stmt.split()[0] in ("BEGIN", "COMMIT")
                 or statements.append(stmt.split()[0] + " " + " ".join(stmt.split()[1:6])))
    r = client.post(path, data=body, headers={{"Content-Type": "application/json",
        "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": bench.sign(body, ts)}})
    print(json.dumps({{"status": r.status_code, "statements": statements}}))
"""
        # The App cache's revision check (once per worker per APP_CACHE_SECONDS) must not
        # fall between the warm-up and the counted delivery of this short script.
        out = subprocess.run([sys.executable, "-c", code],
                             env={**env, "ORQO_APP_CACHE_SECONDS": "3600"},
                             capture_output=True, text=True, cwd=ROOT)
        if out.returncode:
            self.notes.append(f"round trips ({name}) failed: {out.stderr[-500:]}")
            return
        data = json.loads(out.stdout.strip().splitlines()[-1])
        self.trips.append({"name": name, **data})

    def orqo(self, name, db_url, n_contacts, n_waitboxes, full=True, lean=False):
        """Run orqo (or, with ``lean``, the lean reference) on a freshly built database."""
        a = self.args
        instance = tempfile.mkdtemp(prefix="orqo-instance-", dir=self.tmp)
        if db_url:
            db_url = pg_recreate()
        env = orqo_env(db_url, instance)
        t0 = time.time()
        app_ids = build_database(env, a.apps, n_contacts, n_waitboxes)
        log(f"  {name}: {a.apps} Apps, {n_contacts} Contacts, {n_waitboxes} waitboxes "
            f"built in {time.time() - t0:.0f} s")
        if lean:
            env = {**env, "BENCH_SIGNING_SECRET": SECRET,
                   "LEAN_DATABASE": db_url or os.path.join(instance, "orqo.sqlite3"),
                   "LEAN_SYNCHRONOUS": env.get("ORQO_SQLITE_SYNCHRONOUS", "NORMAL")}
            server = Server("lean_app:app", env, chdir=BENCH)
            try:
                return self.target(name, server, app_ids, n_contacts, peak=False)
            finally:
                server.stop()
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
        self.orqo(LEAN_SQLITE, None, a.contacts, a.waitboxes, lean=True)
        self.save()
        if a.pg:
            self.orqo("orqo PostgreSQL", "pg", a.contacts, a.waitboxes)
            self.orqo(LEAN_PG, "pg", a.contacts, a.waitboxes, lean=True)
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
        for name, lean in (("orqo SQLite", LEAN_SQLITE), ("orqo PostgreSQL", LEAN_PG)):
            if name not in by:
                continue
            for reference, label, want in ((by.get(lean), "lean", 0.9), (bolt, "bolt", 0.6),
                                           (floor, "floor", None)):
                if reference:
                    ratio = by[name]["rps"] / reference["rps"]
                    verdict = (f"≥ {want}x: {'met' if ratio >= want else 'not met'}" if want
                               else "(for scale)")
                    lines.append(f"| {name} / {label} | {ratio:.2f}x | {verdict} |")
            if "half_p99" in by[name]:
                p99 = by[name]["half_p99"]
                lines.append(f"| {name}: p99 at ½ peak | {p99:.1f} ms | < 25 ms: "
                             f"{'met' if p99 < 25 else 'not met'} |")
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
            lines += ["", "| statements for one routed DM (BEGIN, COMMIT not counted) | status "
                      "| statements | target |", "|---|---:|---:|---|"]
            for t in self.trips:
                want = 3 if "PostgreSQL" in t["name"] else 5
                count = len(t["statements"])
                lines.append(f"| {t['name']} | {t['status']} | {count} | ≤ {want}: "
                             f"{'met' if count <= want else 'not met'} |")
            for t in self.trips:
                lines += ["", f"Statements ({t['name']}): " + "; ".join(
                    f"`{s}`" for s in t["statements"])]
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
