"""The benchmark's smoke run (bench/run.py --smoke) works and reports a row per target.

It measures nothing here: no timed assertions, only that every target started, took signed
deliveries without errors and made it into the table. The full benchmark is ``make bench``.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "bench", "run.py")


def _rows(table: str) -> dict[str, list[str]]:
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) > 3 and not set(cells[1]) <= set("-:"):
            rows.setdefault(cells[0], cells)
    return rows


@pytest.mark.skipif(not os.path.exists(RUNNER), reason="bench/run.py is missing")
def test_smoke_run_reports_every_target(tmp_path):
    if not shutil.which("gunicorn", path=os.path.dirname(sys.executable)):
        pytest.skip("gunicorn is not installed next to this Python")
    output = tmp_path / "smoke.md"
    # The Python generator: the smoke run does not need wrk, and PostgreSQL only when the
    # tests are given one (ORQO_TEST_DATABASE_URL); the benchmark's own database is orqo_bench.
    args = [sys.executable, RUNNER, "--smoke", "--generator", "python", "--output", str(output)]
    if not os.environ.get("ORQO_TEST_DATABASE_URL"):
        args.append("--no-pg")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORQO_")}
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    table = output.read_text(encoding="utf-8")
    assert "| target |" in done.stdout
    rows = _rows(table)
    expected = ["orqo SQLite", "lean durable reference, SQLite", "floor (bare Flask)"]
    if importlib.util.find_spec("slack_bolt"):
        expected.append("slack_bolt (Flask adapter)")
    else:
        assert "slack_bolt is not installed" in table
    if "PostgreSQL skipped" not in table and "--no-pg" not in args:
        expected += ["orqo PostgreSQL", "lean durable reference, PostgreSQL"]
    for name in expected:
        assert name in rows, f"no row for {name} in:\n{table}"
        requests_per_second, errors = rows[name][1], rows[name][4]
        assert float(requests_per_second) > 0
        assert re.match(r"0\b", errors), f"{name} answered errors: {rows[name]}"
    assert "statements for one routed DM" in table
    assert "worker RSS" in table
    assert rows["Contacts"] and rows["open waitboxes"]
