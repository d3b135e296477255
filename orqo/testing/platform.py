"""A stand-in for a platform's API: a real HTTP server on loopback that answers as scripted.

A send-stage test points the App's ``api_base_url`` (or a custom App's reply URL) at
:attr:`FakePlatform.url`, scripts what the platform answers on each path, and reads back what
the adapter sent::

    def test_a_rate_limit_then_the_message(fake_platform):
        fake_platform.answer("/chat.postMessage", 429, json={"ok": False, "error": "ratelimited"},
                             headers={"Retry-After": "3"})
        fake_platform.answer("/chat.postMessage", 200, json={"ok": True, "ts": "1.2"})
        ...  # send twice with config {"api_base_url": fake_platform.url}
        assert [r.path for r in fake_platform.requests] == ["/chat.postMessage"] * 2

It is a real server (a thread of the test process, on an ephemeral port of 127.0.0.1), so an
``orqo worker`` running as a separate process reaches it as well as an in-process
:class:`orqo.outbound.Http` does. Each request is answered with the next answer queued for its
path (see :meth:`FakePlatform.answer`), else the path's standing answer
(:meth:`FakePlatform.always`), else a 404 naming the path, so an unscripted call shows up.
"""
from __future__ import annotations

import json as jsonlib
import threading
import time
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from requests.structures import CaseInsensitiveDict

from orqo.testing.server import free_port

#: The longest body the fake platform reads from one request.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


@dataclass
class Answer:
    """What the fake platform answers one request with.

    Build it with :meth:`of`, which encodes a JSON value, or give the raw ``body``.
    """

    status: int = 200
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    @classmethod
    def of(cls, status: int = 200, json=None, headers: dict | None = None,
           body: bytes | str | None = None) -> Answer:
        """An answer with ``status`` and either ``json`` (encoded, ``Content-Type:
        application/json`` unless ``headers`` say otherwise) or a raw ``body`` (``str`` is
        encoded as UTF-8); neither gives an empty body."""
        if json is not None and body is not None:
            raise ValueError("give json or body, not both")
        headers = dict(headers or {})
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False).encode("utf-8")
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json; charset=utf-8"
        if isinstance(body, str):
            body = body.encode("utf-8")
        return cls(status=status, body=body or b"", headers=headers)


@dataclass
class RecordedRequest:
    """One request the fake platform received, as it arrived.

    :param method: ``POST``, ``GET``...
    :param path: the path, without the query string.
    :param query: the query string (``""`` without one).
    :param headers: the headers, looked up case-insensitively (a repeated header keeps its
        last value; :attr:`header_pairs` has them all).
    :param header_pairs: every header as a ``(name, value)`` pair, in order.
    :param body: the raw body bytes.
    """

    method: str
    path: str
    query: str
    headers: CaseInsensitiveDict
    header_pairs: list
    body: bytes

    def json(self):
        """The body decoded as JSON, or ``None`` when it is not JSON."""
        try:
            return jsonlib.loads(self.body)
        except (ValueError, RecursionError):
            return None

    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", "replace")


def _answer(status, json, headers, body) -> Answer:
    if isinstance(status, Answer):
        if json is not None or headers is not None or body is not None:
            raise ValueError("give an Answer, or the parts of one, not both")
        return status
    return Answer.of(status, json, headers, body)


class _Handler(BaseHTTPRequestHandler):
    """Records each request and answers it from the server's script."""

    # A client that connects and never sends must not hold a thread (or the stop) for ever.
    timeout = 30
    server: _Server

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            return
        parts = urlsplit(self.path)
        recorded = RecordedRequest(
            method=self.command, path=parts.path, query=parts.query,
            headers=CaseInsensitiveDict(self.headers.items()),
            header_pairs=list(self.headers.items()), body=body)
        answer = self.server.platform._take(recorded)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, str(value))
        if not any(name.lower() == "content-length" for name in answer.headers):
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self.send_error(400, "bad Content-Length")
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks, total = [], 0
        while True:
            try:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"x", 16)
            except ValueError:
                self.send_error(400, "bad chunk size")
                return None
            if size == 0:
                while self.rfile.readline().strip():  # trailers
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_REQUEST_BYTES:
                self.send_error(413, "body too large")
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format, *args) -> None:
        """Quiet: the recorded requests say what came in."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    platform: FakePlatform


class FakePlatform:
    """A platform API on ``127.0.0.1`` answering as a test scripts it; see the module docstring.

    Start it with :meth:`start` (or ``with FakePlatform() as platform:``) and stop it with
    :meth:`stop`; the ``fake_platform`` fixture does both. Every method may be called from
    any thread while the server runs.
    """

    def __init__(self):
        self._lock = threading.Condition()
        self._queued: dict[str, deque[Answer]] = {}
        self._standing: dict[str, Answer] = {}
        self._requests: list[RecordedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # --- running --------------------------------------------------------------------------

    def start(self) -> FakePlatform:
        """Listen on an ephemeral port of 127.0.0.1 and serve in a background thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.platform = self
        self.port = self._server.server_address[1]
        # A short poll: stop() waits for the serving loop to notice, once per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name=f"fake-platform-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the port (requests still being answered are cut off)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(10)
            self._server = None

    def __enter__(self) -> FakePlatform:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL to give an App as its ``api_base_url``: ``http://127.0.0.1:<port>``."""
        if self.port is None:
            raise RuntimeError("the fake platform is not started")
        return f"http://127.0.0.1:{self.port}"

    # --- scripting ------------------------------------------------------------------------

    def answer(self, path: str, status: int | Answer = 200, json=None,
               headers: dict | None = None, body: bytes | str | None = None) -> FakePlatform:
        """Queue one answer for the next request to ``path`` (without the query string).

        Answers queued for one path are given in the order queued, one per request, so
        ``answer(p, 429, ...)`` then ``answer(p, 200, ...)`` scripts a rate limit then a
        success. ``status``, ``json``, ``headers`` and ``body`` are as :meth:`Answer.of`
        takes them, or ``status`` is a whole :class:`Answer`. Returns the platform, so calls
        chain.
        """
        answer = _answer(status, json, headers, body)
        with self._lock:
            self._queued.setdefault(path, deque()).append(answer)
        return self

    def always(self, path: str, status: int | Answer = 200, json=None,
               headers: dict | None = None, body: bytes | str | None = None) -> FakePlatform:
        """Answer every request to ``path`` this way once its queued answers are used up
        (replacing an earlier standing answer); the arguments are as :meth:`answer` takes
        them. Returns the platform."""
        answer = _answer(status, json, headers, body)
        with self._lock:
            self._standing[path] = answer
        return self

    def reset(self) -> None:
        """Forget every scripted answer and every recorded request."""
        with self._lock:
            self._queued.clear()
            self._standing.clear()
            self._requests.clear()

    def pending(self, path: str) -> int:
        """How many queued answers for ``path`` no request has taken yet."""
        with self._lock:
            return len(self._queued.get(path, ()))

    def _take(self, recorded: RecordedRequest) -> Answer:
        with self._lock:
            self._requests.append(recorded)
            queued = self._queued.get(recorded.path)
            if queued:
                answer = queued.popleft()
            else:
                answer = self._standing.get(recorded.path) or Answer.of(404, json={
                    "error": f"the fake platform has no answer for {recorded.method} "
                             f"{recorded.path}"})
            self._lock.notify_all()
            return answer

    # --- reading --------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests received on ``path``, oldest first."""
        return [request for request in self.requests if request.path == path]

    def wait_for_requests(self, count: int = 1, path: str | None = None,
                          timeout: float = 30.0) -> list[RecordedRequest]:
        """Wait until ``count`` requests (to ``path``, when given) have arrived, for a sender
        in another thread or process (an ``orqo worker``); return them all.

        :raises AssertionError: fewer arrived within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                arrived = [r for r in self._requests if path is None or r.path == path]
                if len(arrived) >= count:
                    return arrived
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"{len(arrived)} of {count} requests{' to ' + path if path else ''} "
                        f"reached the fake platform within {timeout}s")
                self._lock.wait(left)


def unreachable_url() -> str:
    """A loopback base URL where nothing listens (a port just found free): a send to it
    fails in the network, as a platform that cannot be reached does."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def fake_platform():
    """A started :class:`FakePlatform`, stopped after the test."""
    platform = FakePlatform().start()
    try:
        yield platform
    finally:
        platform.stop()
