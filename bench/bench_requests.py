"""The benchmark's load: signed Slack DMs from the seeded Contacts, and the request files.

:func:`write_requests` pre-signs one file per run (wrk's Lua has no HMAC); the load generators in
``bench_generators`` read it. :func:`delivery` and :func:`sign` also serve the round-trip count
in ``run.py`` and ``profile_orqo.py``. The Contacts written as are the ones ``bench_seed`` built.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import random
import time
import zlib

from bench_common import SECRET
from bench_common import TEAM


def delivery(app_ids: list[str], i: int, seq: int, run: str) -> tuple[str, bytes]:
    """The path and body of a DM from Contact ``i`` (fresh event_id and ts per ``seq`` and
    ``run``: no two requests of a benchmark carry the same message)."""
    from orqo_slack.testing import envelope, message_event
    ts = f"{1717000000 + seq}.{zlib.crc32(run.encode()) % 1000000:06d}"
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
