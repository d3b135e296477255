"""The lean durable reference: the least a hand-written Flask app must do for orqo's job.

For a Slack DM it does what orqo does, in orqo's own database (same tables, indexes and
settings, built by ``orqo init-db`` and ``bench_seed``), with the database driver directly: no
ORM, no plugins, no metrics, no logging of its own. It verifies the ``v0`` signature and the
timestamp window on the raw body, reads the event, finds the sender among the App's Contacts
together with the Contact's Doorkeeper conversation for the chat, and stores the delivery, the
message (claimed under the unique dedupe key) and its conversation entry in one durable
transaction before answering 200 with a small JSON body. It is the limit orqo's abstractions
are measured against (``bench/run.py``, docs/performance.md); it does not look for waitboxes
nor count the sender's messages, which orqo does in the same read.

* SQLite (``LEAN_DATABASE`` a file path): WAL, ``synchronous`` from ``LEAN_SYNCHRONOUS`` (the
  setting orqo runs with), the read outside any transaction, then 3 writes in one
  ``BEGIN IMMEDIATE`` transaction; writers queue on the same ``flock`` orqo's writers use.
* PostgreSQL (``LEAN_DATABASE`` a ``postgresql://`` URL): one statement per delivery (the read
  and the 3 writes as CTEs), autocommit.
"""
from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import time
from datetime import datetime
from datetime import timezone

from flask import Flask
from flask import request

# Read when served (bench_seed imports nothing from here, but keep import side-effect free).
SECRET = os.environ.get("BENCH_SIGNING_SECRET", "").encode()
DATABASE = os.environ.get("LEAN_DATABASE", "")
POSTGRES = DATABASE.startswith("postgresql")

READ = """
SELECT cc.contact_id, c.id, s.id
FROM contact_channels cc
LEFT JOIN conversations c ON c.app_id = cc.app_id AND c.contact_id = cc.contact_id
     AND c.chat_id = ? AND c.thread_key = ''
LEFT JOIN conversation_sessions s ON s.conversation_id = c.id AND s.ended_at IS NULL
WHERE cc.app_id = ? AND cc.sender_id = ?
"""
DELIVERY = """
INSERT INTO deliveries (app_id, received_at, method, client_address, outcome, reason,
                        status_code, duration_ms, meta)
VALUES (?, ?, 'POST', ?, 'accepted', '', 200, ?, '{}') RETURNING id
"""
MESSAGE = """
INSERT INTO messages (delivery_id, app_id, platform, kind, dedupe_key, platform_message_id,
                      sender_id, chat_id, text, sent_at, attachments, extra, contact_id,
                      outcome, claimed, reason, handler, handler_ref, created_at)
VALUES (?, ?, 'slack', 'message', ?, ?, ?, ?, ?, ?, '[]', ?, ?, 'routed', 1, '', 'doorkeeper',
        ?, ?)
ON CONFLICT (app_id, dedupe_key) WHERE claimed DO NOTHING RETURNING id
"""
ENTRY = """
INSERT INTO conversation_entries (conversation_id, session_id, message_id, status, claims,
                                  created_at)
VALUES (?, ?, ?, 'queued', 0, ?)
"""

ONE_STATEMENT = """
WITH found AS (
    SELECT cc.contact_id, c.id AS conversation_id, s.id AS session_id
    FROM contact_channels cc
    JOIN conversations c ON c.app_id = cc.app_id AND c.contact_id = cc.contact_id
         AND c.chat_id = %(chat)s AND c.thread_key = ''
    JOIN conversation_sessions s ON s.conversation_id = c.id AND s.ended_at IS NULL
    WHERE cc.app_id = %(app)s AND cc.sender_id = %(sender)s
), delivery AS (
    INSERT INTO deliveries (app_id, received_at, method, client_address, outcome, reason,
                            status_code, duration_ms, meta)
    VALUES (%(app)s, %(now)s, 'POST', %(client)s, 'accepted', '', 200, %(took)s, '{}')
    RETURNING id
), message AS (
    INSERT INTO messages (delivery_id, app_id, platform, kind, dedupe_key, platform_message_id,
                          sender_id, chat_id, text, sent_at, attachments, extra, contact_id,
                          outcome, claimed, reason, handler, handler_ref, created_at)
    SELECT delivery.id, %(app)s, 'slack', 'message', %(key)s, %(ts)s, %(sender)s, %(chat)s,
           %(text)s, %(sent)s, '[]', %(extra)s, found.contact_id, 'routed', true, '',
           'doorkeeper', found.conversation_id::text, %(now)s
    FROM delivery, found
    ON CONFLICT (app_id, dedupe_key) WHERE claimed DO NOTHING
    RETURNING id
), entry AS (
    INSERT INTO conversation_entries (conversation_id, session_id, message_id, status, claims,
                                      created_at)
    SELECT found.conversation_id, found.session_id, message.id, 'queued', 0, %(now)s
    FROM found, message
)
SELECT (SELECT id FROM delivery), (SELECT contact_id FROM found), (SELECT id FROM message)
"""

_connection = None
_lock_file = None


def connection():
    """This worker's connection, opened after the fork."""
    global _connection, _lock_file
    if _connection is None:
        if POSTGRES:
            import psycopg

            _connection = psycopg.connect(DATABASE, autocommit=True)
        else:
            import sqlite3

            _connection = sqlite3.connect(DATABASE, isolation_level=None, timeout=30)
            _connection.execute("PRAGMA journal_mode=WAL")
            _connection.execute(f"PRAGMA synchronous={os.environ.get('LEAN_SYNCHRONOUS', 'NORMAL')}")
            _connection.execute("PRAGMA foreign_keys=ON")
            _lock_file = open(DATABASE + ".lock", "a+b")  # noqa: SIM115 - the worker's lock
    return _connection


def verified(body: bytes) -> bool:
    """Slack's v0 signature and a timestamp within 5 minutes."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    expected = "v0=" + hmac.new(SECRET, b"v0:" + timestamp.encode() + b":" + body,
                                hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature.encode(), expected.encode())


def store(app_id, sender, chat, ts, text, extra, started) -> tuple:
    """Store the delivery and its message; ``(delivery id, contact id, message id)``."""
    conn = connection()
    now = datetime.now(timezone.utc)
    took = (time.perf_counter() - started) * 1000
    key = f"{chat}:{ts}"
    if POSTGRES:
        return conn.execute(ONE_STATEMENT, {
            "app": app_id, "sender": sender, "chat": chat, "now": now, "took": took,
            "client": request.remote_addr, "key": key, "ts": ts, "text": text,
            "sent": float(ts), "extra": extra}).fetchone()
    stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    contact, conversation, session = conn.execute(READ, (chat, app_id, sender)).fetchone() or (
        None, None, None)
    fcntl.flock(_lock_file, fcntl.LOCK_EX)
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            delivery = conn.execute(DELIVERY, (app_id, stamp, request.remote_addr,
                                               took)).fetchone()[0]
            message = None
            if contact is not None and session is not None:
                inserted = conn.execute(MESSAGE, (
                    delivery, app_id, key, ts, sender, chat, text, float(ts), extra, contact,
                    str(conversation), stamp)).fetchone()
                if inserted is not None:  # else a duplicate: already stored and queued
                    message = inserted[0]
                    conn.execute(ENTRY, (conversation, session, message, stamp))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        fcntl.flock(_lock_file, fcntl.LOCK_UN)
    return delivery, contact, message


app = Flask(__name__)


@app.post("/api/v1/webhooks/<app_id>")
def receive(app_id):
    started = time.perf_counter()
    body = request.get_data()
    if not verified(body):
        return {"error": "invalid signature"}, 401
    envelope = json.loads(body)
    event = envelope["event"]
    sender = f"{event.get('user_team') or envelope['team_id']}:{event['user']}"
    delivery, contact, message = store(
        app_id, sender, event["channel"], event["ts"], event["text"],
        json.dumps({"event_id": envelope["event_id"]}), started)
    outcome = "unknown_sender" if contact is None else (
        "routed" if message is not None else "duplicate")
    return {"delivery_id": delivery, "outcome": outcome}
