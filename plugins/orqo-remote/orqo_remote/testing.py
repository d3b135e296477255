"""Test helpers: a remote adapter on loopback that answers as badly as a test needs, and
orqo's adapter server answering in-process.

:class:`LoopbackAdapter` serves ORQO's adapter contract from a thread on 127.0.0.1 with raw
sockets, so that a test can make it answer in ways no HTTP library does on purpose: one byte at
a time (:func:`trickle`), never (:func:`silent`), or by resetting the connection
(:func:`reset`). :func:`serve_through` hands a requests-mock's calls to a URL to a WSGI app
(``orqo.adapter_server``). Used by the plugin's tests; the fixtures are in its tests' conftest.
"""
import json
import re
import socket
import struct
import threading
import time
from urllib.parse import urlsplit

MANIFEST = {"schema_version": "1.0", "name": "custom", "capabilities": ["receive"],
            "credentials": [{"key": "signing_secret", "maps_to": "signing_secret",
                             "type": "secret", "label": "Signing secret"}]}
#: A server's thread never outlives a test by more than this.
MAX_SERVE_SECONDS = 12.0


def http_answer(data, status="200 OK") -> bytes:
    """A whole HTTP/1.1 answer with a JSON body."""
    body = json.dumps(data).encode()
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class LoopbackAdapter:
    """A remote adapter on 127.0.0.1 serving ``/manifest.json``; every other request (and the
    manifest too, when ``manifest`` is a behaviour) gets ``behaviour(connection)``.

    Behaviours are called with the connection and the request's path; they return False to
    close the connection, True to read the next request on it.
    """

    def __init__(self, behaviour, manifest=None):
        self.behaviour = behaviour
        self.manifest = manifest
        self.connections = 0
        self.requests = []
        self.stopped = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:  # the listener was closed
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection):
        connection.settimeout(MAX_SERVE_SECONDS)
        with connection:
            try:
                while self._respond(connection):
                    pass
            except OSError:  # orqo gave up and closed the connection
                pass

    def _respond(self, connection) -> bool:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = connection.recv(4096)
            if not chunk:
                return False
            head += chunk
        head, _, body = head.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        length = next((int(line.split(":", 1)[1]) for line in lines
                       if line.lower().startswith("content-length:")), 0)
        while len(body) < length:
            body += connection.recv(4096)
        path = lines[0].split(" ")[1]
        self.requests.append((path, dict(line.split(": ", 1) for line in lines[1:])))
        if path == "/manifest.json" and self.manifest is None:
            connection.sendall(http_answer(MANIFEST))
            return True
        behaviour = self.manifest if path == "/manifest.json" else self.behaviour
        return behaviour(connection, path)

    def stop(self):
        """Stop accepting; connections being served end within MAX_SERVE_SECONDS."""
        self.stopped.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.listener.close()


def trickle(answer: bytes, interval: float, fast_head: bool = False):
    """A behaviour sending ``answer`` one byte every ``interval`` seconds (after the headers
    at once, with ``fast_head``), never for longer than MAX_SERVE_SECONDS."""

    def behaviour(connection, path):
        data = answer
        if fast_head:
            head, _, data = answer.partition(b"\r\n\r\n")
            connection.sendall(head + b"\r\n\r\n")
        started = time.monotonic()
        for byte in data:
            if time.monotonic() - started > MAX_SERVE_SECONDS:
                return False
            connection.sendall(bytes([byte]))
            time.sleep(interval)
        return False

    return behaviour


def silent(connection, path):
    """A behaviour that reads the request and never answers (until MAX_SERVE_SECONDS)."""
    connection.settimeout(MAX_SERVE_SECONDS)
    try:
        connection.recv(1)
    except OSError:
        pass
    return False


def reset(connection, path):
    """A behaviour that resets the connection (RST) instead of answering."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


def answer(data, status="200 OK"):
    """A behaviour answering ``data`` as JSON at once, keeping the connection; ``data`` may
    be ``{path: data}`` instead, e.g. ``{"/verify-webhook": {...}, "/parse-inbound": {...}}``."""

    def behaviour(connection, path):
        by_path = isinstance(data, dict) and all(key.startswith("/") for key in data)
        connection.sendall(http_answer(data[path] if by_path else data, status))
        return True

    return behaviour




def serve_through(mock, base_url: str, wsgi_app) -> None:
    """Answer every request ``mock`` (a requests-mock mocker) sees to ``base_url`` with
    ``wsgi_app``'s test client, as a real server would."""
    from requests_mock import ANY

    client = wsgi_app.test_client()

    def respond(request, context):
        response = client.open(urlsplit(request.url).path, method=request.method,
                               data=request.body or b"",
                               headers={"Content-Type": "application/json"})
        context.status_code = response.status_code
        context.headers["Content-Type"] = response.content_type
        return response.data

    mock.register_uri(ANY, re.compile(re.escape(base_url) + "/"), content=respond)
