"""The push worker against receivers that misbehave (issue 15, finding 8): a huge answer, an
answer that trickles in, odd ``Retry-After`` values, and failures of every kind. Each runs
``orqo worker``'s loop (:func:`orqo.worker.run`) against a real receiver on 127.0.0.1."""
import base64
import http.client
import threading
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import pytest
import requests
import urllib3

from orqo import worker
from orqo.extensions import db
from orqo.models import PushDelivery
from orqo.models import as_utc
from orqo.models import utcnow
from orqo.services import push
from orqo.testing import Harness
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery

SECRET = "whsec_" + base64.b64encode(b"push-secret-32-bytes-long-012345").decode()
HUGE = 64 * 1024 * 1024
BLOCK = b"x" * 65536


class Receiver(BaseHTTPRequestHandler):
    """Answers by path: ``/huge`` 64 MiB, ``/trickle-body`` and ``/trickle-headers`` one byte
    every 0.2 s for 20 s, ``/retry-after/<raw value>`` a 503 with that header; counts what it
    saw and sent."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append(self.headers["webhook-id"])
        self.close_connection = True
        try:
            getattr(self, "answer_" + self.path.split("/")[1].replace("-", "_"))()
        except OSError:  # orqo hung up: what the cap and the deadline are for
            pass

    def answer_huge(self):
        self.wfile.write(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: %d\r\n\r\n"
                         % HUGE)
        for _ in range(HUGE // len(BLOCK)):
            self.wfile.write(BLOCK)
            self.server.sent += len(BLOCK)

    def answer_trickle_body(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        self.trickle(b"x" * 100)

    def answer_trickle_headers(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        self.trickle(b"y" * 100)
        self.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")

    def answer_retry_after(self):
        value = bytes.fromhex(self.path.split("/")[2])
        self.wfile.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + value
                         + b"\r\nContent-Length: 4\r\n\r\nbusy")

    def trickle(self, data):
        for byte in data:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(0.2)

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    server.seen, server.sent = [], 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def pushing(make_app, receiver):
    """``pushing(path, **config)``: a Harness whose pushes go to the receiver's ``path``."""
    def factory(path, **config):
        settings = {"AGENT_PUSH_URL": receiver.url + path, "AGENT_PUSH_SECRET": SECRET,
                    "PUSH_MAX_ATTEMPTS": 3, "PUSH_BACKOFF_BASE": 600.0,
                    "PRUNE_INTERVAL_SECONDS": 0, **config}
        harness = Harness(make_app(plugins=[fake_adapter], **settings))
        harness.app_id = harness.add_app("fake", {"token": "t"})
        harness.add_contact({harness.app_id: "ada"})
        return harness
    return factory


def route(harness, *message_ids):
    for message_id in message_ids:
        body = delivery({"sender": "ada", "id": message_id, "text": "hi"})
        assert harness.deliver(harness.app_id, body, {"X-Fake-Token": "t"}).status_code == 200


def pushes(harness):
    """Every push as ``orqo pushes list`` shows it, oldest first, with its lease."""
    with harness.app.app_context():
        return [{**push.describe_push(p), "leased": p.lease_until is not None}
                for p in reversed(push.list_pushes())]


def due_in(harness, push_id):
    """Seconds until the push is due again."""
    with harness.app.app_context():
        due = as_utc(db.session.get(PushDelivery, push_id).next_attempt_at)
    return (due - utcnow()).total_seconds()


def run_worker(harness):
    """``orqo worker --once``; return the seconds it took."""
    started = time.monotonic()
    worker.run(harness.app, once=True)
    return time.monotonic() - started


def test_a_huge_answer_is_read_no_further_than_the_cap(pushing, receiver):
    harness = pushing("/huge", PUSH_MAX_ATTEMPTS=1)
    route(harness, "m1")
    tracemalloc.start()
    try:
        run_worker(harness)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    [entry] = pushes(harness)
    assert entry["status"] == "dead" and not entry["leased"]
    [attempt] = entry["attempt_log"]
    assert attempt["status_code"] == 500
    assert attempt["error"].startswith("HTTP 500: xxxx") and "(answer cut off)" in attempt["error"]
    assert len(attempt["error"]) < 400
    assert peak < 8 * 1024 * 1024, f"the worker held {peak} bytes for a {HUGE}-byte answer"
    assert receiver.sent < HUGE // 2  # the connection was closed, not read to its end


@pytest.mark.parametrize("path", ["/trickle-body", "/trickle-headers"])
def test_a_trickling_answer_is_cut_at_the_total_deadline(pushing, receiver, path):
    harness = pushing(path, PUSH_TIMEOUT=1.5)
    route(harness, "m1")
    took = run_worker(harness)
    assert took < 1.5 + 2, f"one attempt held the worker {took:.1f} s"
    [entry] = pushes(harness)
    [attempt] = entry["attempt_log"]
    assert not entry["leased"]
    if path == "/trickle-body":  # the status came in time: it decides; the body is not needed
        assert entry["status"] == "delivered" and attempt["status_code"] == 200
    else:
        assert entry["status"] == "pending" and attempt["status_code"] is None
        assert "no answer within the deadline of 1.5 s" in attempt["error"]


def test_no_attempt_runs_past_its_push_lease(pushing, receiver):
    # A timeout longer than the lease is cut to fit it; a push whose turn comes too late in
    # the batch is handed back unsent and taken in the next round: none is sent twice.
    harness = pushing("/trickle-headers", PUSH_TIMEOUT=30.0, PUSH_LEASE_SECONDS=4.0)
    route(harness, "m1", "m2")
    took = run_worker(harness)
    entries = pushes(harness)
    assert [len(e["attempt_log"]) for e in entries] == [1, 1]
    assert all(e["attempt_log"][0]["duration_ms"] < 4000 for e in entries)
    assert sorted(receiver.seen) == sorted(f"push_{e['id']}" for e in entries)
    assert not any(e["leased"] for e in entries)
    assert took < 2 * 4 + 2


@pytest.mark.parametrize("value", [b"\xb2", "²".encode(), b"9" * 400, b"9" * 5000, b"-5",
                                   b"1e3", b"0x10", b"Mon, 99 Foo 9999 99:99:99 GMT",
                                   b"Wed, 21 Oct 99999 07:28:00 GMT", b""])
def test_an_odd_retry_after_is_ignored_and_the_attempt_recorded(pushing, receiver, value):
    harness = pushing("/retry-after/" + value.hex())
    route(harness, "m1")
    run_worker(harness)
    [entry] = pushes(harness)
    assert entry["status"] == "pending" and not entry["leased"]
    assert [a["status_code"] for a in entry["attempt_log"]] == [503]
    assert entry["attempt_log"][0]["error"].startswith("HTTP 503")
    assert 290 <= due_in(harness, entry["id"]) <= 600  # the backoff (600 s, jittered)


def test_a_valid_retry_after_is_honoured(pushing, receiver):
    harness = pushing("/retry-after/" + b"120".hex())
    route(harness, "m1")
    run_worker(harness)
    [entry] = pushes(harness)
    assert 110 <= due_in(harness, entry["id"]) <= 120


@pytest.mark.parametrize("value", ["²", "٣", "9" * 10, "-1", "+5", "1.5", " 7 ", "1e3", "x" * 100,
                                   "Wed, 21 Oct 2015 07:28:00 -0000", "Mon, 99 Foo 9999",
                                   "Wed, 21 Oct 2015 07:28:00 +9999", "\x00", None, ""])
def test_parse_retry_after_never_raises(value):
    parsed = push.parse_retry_after(value)
    assert parsed is None or 0 <= parsed < 10 ** 9
    assert push.parse_retry_after(" 7 ") == 7.0
    assert push.parse_retry_after("Wed, 21 Oct 2015 07:28:00 -0000") == 0.0


@pytest.mark.parametrize("failure", [ValueError("bad"), http.client.HTTPException("odd"),
                                     urllib3.exceptions.ProtocolError("cut"),
                                     requests.exceptions.ChunkedEncodingError("chunk"),
                                     UnicodeError("name"), RecursionError()])
def test_every_failure_of_an_attempt_is_recorded(pushing, requests_mock, failure):
    # No backoff: the second attempt follows at once, the last of two, and the push is dead.
    harness = pushing("/anything", PUSH_MAX_ATTEMPTS=2, PUSH_BACKOFF_BASE=0.0)
    requests_mock.post(harness.app.config["AGENT_PUSH_URL"], exc=failure)
    route(harness, "m1")
    run_worker(harness)
    [entry] = pushes(harness)
    assert entry["status"] == "dead" and not entry["leased"]
    assert [a["status_code"] for a in entry["attempt_log"]] == [None, None]
    assert all(a["error"].startswith(type(failure).__name__) for a in entry["attempt_log"])
