"""Profile orqo's pipeline in-process (pyinstrument) over N signed DMs through the test client.

    python bench/profile_orqo.py [N]     # SQLite in a temporary instance folder
"""
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_requests  # noqa: E402
import bench_seed  # noqa: E402

n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
env = bench_seed.orqo_env(os.environ.get("ORQO_DATABASE_URL"),
                          tempfile.mkdtemp(prefix="orqo-prof-"))
app_ids = bench_seed.build_database(env, 10, 10_000, 100)
os.environ.update(env)
from pyinstrument import Profiler  # noqa: E402

from orqo import create_app  # noqa: E402

app = create_app()
client = app.test_client()
ts = str(int(time.time()))
reqs = [bench_requests.delivery(app_ids, i % 5000, i, "prof") for i in range(n + 20)]


def post(path, body):
    r = client.post(path, data=body, headers={"Content-Type": "application/json",
                    "X-Slack-Request-Timestamp": ts,
                    "X-Slack-Signature": bench_requests.sign(body, ts)})
    assert r.status_code == 200, r.data


for path, body in reqs[:20]:
    post(path, body)
profiler = Profiler(interval=0.0005)
t0 = time.perf_counter()
profiler.start()
for path, body in reqs[20:]:
    post(path, body)
profiler.stop()
print(f"{n} deliveries in-process: {(time.perf_counter() - t0) / n * 1e3:.2f} ms each")
print(profiler.output_text(unicode=False, color=False, show_all=False))
