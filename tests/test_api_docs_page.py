"""The API docs page at /api/v1/docs (issue 17): Swagger UI from files installed with orqo,
reading /api/v1/openapi.json, under a Content-Security-Policy that allows orqo only."""
from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

import orqo.api

STATIC = Path(orqo.api.__file__).with_name("static")


class References(HTMLParser):
    """Every ``src`` and ``href`` in a page."""

    def __init__(self):
        super().__init__()
        self.urls = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def page_references(html: str) -> list[str]:
    parser = References()
    parser.feed(html)
    return parser.urls


def test_the_page_is_html_referencing_only_local_assets(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp
    html = response.get_data(as_text=True)
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    assert "<script>" not in html  # no inline script: the CSP would refuse it
    urls = page_references(html)
    assert len(urls) == 4  # the css, the two scripts, the document's link in <noscript>
    for url in urls:
        assert url.startswith("/api/v1/"), url  # no host: nothing from a CDN


def test_the_assets_are_served_with_their_types(client):
    html = client.get("/api/v1/docs").get_data(as_text=True)
    for url in page_references(html):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        expected = {"css": "text/css", "js": "text/javascript", "json": "application/json"}
        assert response.mimetype == expected[url.rsplit(".", 1)[1]], url
        response.close()


def test_the_vendored_files_are_the_ones_the_readme_names():
    import hashlib

    readme = (STATIC / "swagger-ui" / "README.md").read_text()
    for name, digest in re.findall(r"^\| (\S+) \| ([0-9a-f]{64}) \|$", readme, re.M):
        assert hashlib.sha256((STATIC / "swagger-ui" / name).read_bytes()).hexdigest() == digest
    assert (STATIC / "swagger-ui" / "LICENSE").exists()


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/v1/docs/static/nothing.js", 404),
    ("GET", "/api/v1/docs/static/..%2fdocs_page.py", 404),
    ("GET", "/api/v1/docs/static/../../__init__.py", 404),
    ("GET", "/api/v1/docs/static/swagger-ui", 404),
    ("POST", "/api/v1/docs", 405),
])
def test_anything_else_under_the_page_is_a_json_error(client, method, path, status):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert set(response.get_json()["error"]) == {"code", "message", "details"}


@pytest.mark.skipif(not shutil.which("chromium"), reason="needs Debian's chromium")
def test_a_real_browser_renders_the_operations(make_server, tmp_path):
    server = make_server(workers=1)
    # --dump-dom prints the DOM once the page and its scripts settle (virtual time lets the
    # spec's fetch finish); console messages, CSP refusals among them, go to stderr.
    result = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium'}", "--enable-logging=stderr", "--log-level=0",
         "--virtual-time-budget=15000", "--dump-dom", f"{server.url}/api/v1/docs"],
        capture_output=True, text=True, timeout=120)
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-3000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []  # nothing the CSP blocked, no script error
    rendered = set(re.findall(r'data-path="([^"]+)"', dom))
    served = requests.get(f"{server.url}/api/v1/openapi.json", timeout=10).json()["paths"]
    assert len(served) > 10 and rendered == set(served), dom[-3000:]  # every operation shown
    assert re.search(r'class="[^"]*opblock-get', dom)
    assert "Authorize" in dom  # the bearerAuth scheme, to try operations with a token


def test_the_page_files_are_package_data():
    """A wheel (not only the editable install) carries the page's template and assets."""
    from pathlib import PurePosixPath

    from setuptools.config.setupcfg import read_configuration

    checkout = Path(orqo.api.__file__).parents[2]
    globs = read_configuration(checkout / "setup.cfg")["options"]["package_data"]["orqo"]
    package = checkout / "orqo"
    for folder in (STATIC, package / "api" / "templates"):
        for path in folder.rglob("*"):
            if path.is_file():
                name = PurePosixPath(path.relative_to(package).as_posix())
                # As setuptools globs: "*" stays within one folder.
                assert any(len(name.parts) == len(PurePosixPath(glob).parts)
                           and name.match(glob) for glob in globs), name
