"""https to a remote adapter through the pinned connection: connected to the checked address,
while TLS still names and verifies the URL's host; on loopback, with a certificate made by the
``openssl`` command for the test (skipped where there is none)."""
import json
import shutil
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer

import orqo_remote
import pytest
from orqo_remote import client
from orqo_remote.errors import RemoteAdapterError

UNREACHABLE = "timed out or connection failed; the adapter could not be reached in time."


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate and key for ``adapter.internal``."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=adapter.internal",
                    "-addext", "subjectAltName=DNS:adapter.internal"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture
def tls_adapter(certificate):
    """An https server on 127.0.0.1 answering JSON; ``.names`` records the SNI names asked."""
    names = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = json.dumps({"ok": True, "padding": "x" * 100_000}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.names = names
    httpd.port = httpd.server_address[1]
    httpd.cert = str(certificate[0])
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def get(session, url):
    return client.call(session, "GET", url, "/manifest.json", connect_timeout=1.0,
                       read_timeout=2.0, limit=1024 * 1024, deadline=client.clock() + 3.0)


def test_https_goes_to_the_checked_address_and_verifies_the_urls_host(
        make_app, tls_adapter, resolver, loopback_only):
    app = make_app(plugins=[orqo_remote], REMOTE_ADAPTER_ALLOWED_HOSTS="adapter.internal")
    asked = resolver({"adapter.internal": ["127.0.0.1"]})
    session = client.make_session()
    session.verify = tls_adapter.cert
    with app.app_context():
        answers = [get(session, f"https://adapter.internal:{tls_adapter.port}")
                   for _ in range(3)]
    assert all(status == 200 and json.loads(body)["ok"] for status, body in answers)
    assert tls_adapter.names == ["adapter.internal"]  # SNI names the host, not the address
    assert asked == ["adapter.internal"] and loopback_only == ["127.0.0.1"]  # one connection
    session.close()


def test_a_certificate_for_another_host_is_unreachable(make_app, tls_adapter, resolver):
    app = make_app(plugins=[orqo_remote], REMOTE_ADAPTER_ALLOWED_HOSTS="other.internal")
    resolver({"other.internal": ["127.0.0.1"]})
    session = client.make_session()
    session.verify = tls_adapter.cert
    with app.app_context(), pytest.raises(RemoteAdapterError) as excinfo:
        get(session, f"https://other.internal:{tls_adapter.port}")
    assert str(excinfo.value).endswith(UNREACHABLE)
    assert "SSLError" in excinfo.value.detail
    session.close()
