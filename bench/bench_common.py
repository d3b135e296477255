"""What every part of the benchmark shares: paths, the signing secret, the team, PostgreSQL.

``bench_seed`` builds the databases with these, ``bench_requests`` signs the load with the same
secret and team, ``bench_servers`` starts gunicorn from ``ROOT`` and ``BIN``, ``bench_generators``
finds ``load.lua`` in ``BENCH``; ``run.py`` logs progress with :func:`log`.
"""
from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
BIN = os.path.dirname(sys.executable)
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM = "T0BENCH"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PG_DB = "orqo_bench"


def log(*args):
    print(*args, file=sys.stderr, flush=True)
