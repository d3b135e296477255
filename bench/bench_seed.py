"""The benchmark's data: orqo's environment, the databases (Apps, Contacts, waitboxes), PostgreSQL.

``run.py``'s ``Bench`` builds a fresh database per orqo target with :func:`build_database` (after
:func:`pg_recreate` for the PostgreSQL one) and starts ``bench_servers.Server`` on it with the
environment from :func:`orqo_env`; the load (``bench_requests``) writes as the Contacts seeded
here, which is why both take the team and signing secret from ``bench_common``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from bench_common import BIN
from bench_common import PG_ADMIN
from bench_common import PG_DB
from bench_common import SECRET
from bench_common import TEAM


def orqo_env(db_url: str | None, instance: str) -> dict:
    env = dict(os.environ)
    # orqo as it ships: its default settings (the per-sender limit on, SQLite's NORMAL).
    env.update(ORQO_INSTANCE_PATH=instance)
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
    """``orqo init-db``, then Apps through the service and Contacts, their conversations and
    waitboxes in bulk. App ids."""
    subprocess.run([os.path.join(BIN, "orqo"), "init-db"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    code = f"""
import json, sys
from datetime import datetime, timedelta, timezone
from sqlalchemy import insert, text
from orqo import create_app
from orqo.extensions import db
from orqo.models import Contact, ContactChannel, Conversation, ConversationSession
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
    # The Contacts the load writes as (the first half) have talked to Doorkeeper before: each
    # has its DM's conversation with an open session, as in steady state.
    half = max(1, n_contacts // 2)
    for start in range(0, half, chunk):
        rows = range(start, min(half, start + chunk))
        db.session.execute(insert(Conversation.__table__), [
            {{"id": i + 1, "app_id": ids[i % n_apps], "contact_id": i + 1,
              "chat_id": "D%09d" % i, "thread_key": "", "created_at": now}} for i in rows])
        db.session.execute(insert(ConversationSession.__table__), [
            {{"id": i + 1, "conversation_id": i + 1, "started_at": now}} for i in rows])
        db.session.commit()
    # Open waitboxes for Contacts other than the ones the load writes as (ids above n_contacts/2).
    for start in range(0, n_waitboxes, chunk):
        rows = range(start, min(n_waitboxes, start + chunk))
        db.session.execute(insert(Waitbox.__table__), [
            {{"app_id": ids[(half + i % max(1, n_contacts - half)) % n_apps],
              "contact_id": half + i % max(1, n_contacts - half) + 1, "thread_id": None,
              "reference": f"wb-{{i}}", "status": "waiting",
              "expires_at": now + timedelta(days=30), "created_at": now}} for i in rows])
        db.session.commit()
    if db.engine.dialect.name == "postgresql":
        for table, n in (("contacts", n_contacts), ("conversations", half),
                         ("conversation_sessions", half)):
            db.session.execute(text(f"SELECT setval(pg_get_serial_sequence('{{table}}', 'id'), :n)"),
                               {{"n": max(1, n)}})
        db.session.commit()
    print(json.dumps(ids))
"""
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])

