"""Structured logs: JSON lines with the request id, secrets redacted."""
import json
import logging

import pytest

from orqo.logs import redact_secrets
from tests.plugins.fake_adapter import delivery


@pytest.fixture
def log_lines(capfd):
    def read():
        return [json.loads(line) for line in capfd.readouterr().err.splitlines()
                if line.startswith("{")]
    return read


def test_log_lines_are_json_with_the_request_id(fake, log_lines):
    log_lines()
    response = fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1"}),
                            {"X-Fake-Token": "forged", "X-Request-ID": "req-0123456789"})
    assert response.headers["X-Request-ID"] == "req-0123456789"
    lines = [line for line in log_lines() if line["logger"] == "orqo.webhooks"]
    assert lines and all(line["request_id"] == "req-0123456789" for line in lines)
    assert {"ts", "level", "message"} <= set(lines[0])


def test_a_request_id_that_does_not_look_like_one_is_replaced(fake):
    response = fake.client.get("/healthz", headers={"X-Request-ID": "bad id <script>"})
    assert response.headers["X-Request-ID"] != "bad id <script>"
    assert len(response.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("secret,kept", [
    ("Authorization: Bearer orqo_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "Bearer [redacted]"),
    ("token orqo_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG used", "token [redacted] used"),
    ("POST /api/v1/hooks/Zm9vYmFyYmF6cXV4cXV1eHh4eHh4eHh4eHh4eHh4eHh4eHg", "/api/v1/hooks/[redacted]"),
    ("GET /w?hub.verify_token=letmein&hub.challenge=1", "hub.verify_token=[redacted]&"),
    ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret [redacted]"),
])
def test_secrets_are_redacted_from_any_message(secret, kept):
    assert kept in redact_secrets(secret)


def test_exceptions_are_redacted_too(fake, log_lines):
    log_lines()
    with fake.app.test_request_context("/"):
        try:
            raise RuntimeError("failed with Bearer orqo_abcdefghijklmnopqrstuvwxyz0123456789AB")
        except RuntimeError:
            logging.getLogger("orqo.test").exception("boom")
    [line] = [entry for entry in log_lines() if entry["logger"] == "orqo.test"]
    assert "orqo_abcdef" not in line["exception"] and "[redacted]" in line["exception"]


def test_escaped_token_urls_are_redacted_in_the_access_log():
    from orqo.gunicorn_logging import redact

    line = "POST /api/v1/%68ooks/Zm9vYmFyYmF6cXV4cXV1eHh4eHh4eHh4eHh4eHh4eHh4eHg HTTP/1.1"
    assert "Zm9vYmFy" not in redact(line) and "[redacted]" in redact(line)
    assert "sekret" not in redact("GET /w?hub%2Everify_token=sekret&x=1")
    assert redact("GET /api/v1/apps?name=a%20b") == "GET /api/v1/apps?name=a%20b"


def test_an_exhausted_connection_pool_is_503(make_app):
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    from orqo import hookimpl

    class Exhausted:
        @hookimpl
        def startup(self, app):
            @app.get("/test-pool")
            def pool():
                raise PoolTimeoutError("QueuePool limit of size 5 overflow 5 reached")

    app = make_app(plugins=[Exhausted()])
    response = app.test_client().get("/test-pool")
    assert response.status_code == 503 and response.headers["Retry-After"]
