"""orqo's adapter server: an installed adapter over ORQO's HTTP adapter contract."""
import json

import pytest

from orqo import __version__
from orqo.adapter_server import create_adapter_app
from orqo.errors import UnknownPlatform
from orqo.schemas import ParseResultSchema
from orqo.schemas import StageRequestSchema
from orqo.schemas import VerdictSchema
from orqo.testing.conformance import make_stage_request
from tests.plugins import fake_adapter
from tests.plugins.fake_adapter import delivery

TOKEN = "fake-token-123"


@pytest.fixture
def server():
    """The fake adapter served; its test client."""
    return create_adapter_app("fake", load_entrypoints=False, plugins=[fake_adapter]).test_client()


def stage_json(body: bytes, token=TOKEN, credentials=None, **extra) -> dict:
    """A stage request as orqo sends it to a remote adapter."""
    headers = {"Content-Type": "application/json", **({"X-Fake-Token": token} if token else {})}
    request = make_stage_request("AppId_123", "remote", body, headers,
                                 credentials if credentials is not None else {"token": TOKEN}, {})
    return {**StageRequestSchema().dump(request), **extra}


def message(**fields):
    return {"sender": "ada", "id": "m-1", "text": "Grüße, Zoë 👋", **fields}


def test_manifest_declares_the_adapters_credentials_with_maps_to(server):
    manifest = server.get("/manifest.json").get_json()
    assert manifest["schema_version"] == "1.0"
    assert manifest["name"] == "fake"
    assert manifest["description"] == "test adapter"
    assert manifest["capabilities"] == ["receive", "send"]
    assert manifest["credentials"] == [{"key": "token", "maps_to": "token", "type": "secret",
                                        "required": True, "label": "token"}]
    assert {"icon", "category", "setup_instructions", "author"} <= set(manifest)


def test_health_is_ready_with_a_version(server):
    assert server.get("/health").get_json() == {"status": "ready", "version": __version__,
                                                "adapter": "fake"}


def test_installed_plugins_are_served_with_their_version_and_a_valid_manifest():
    from importlib.metadata import version

    orqo_remote = pytest.importorskip("orqo_remote")
    client = create_adapter_app("custom").test_client()
    assert client.get("/health").get_json()["version"] == version("orqo-custom")
    manifest = orqo_remote.ManifestSchema().load(client.get("/manifest.json").get_json())
    assert [(c["key"], c["maps_to"], c["required"]) for c in manifest["credentials"]] == [
        ("signing_secret", "signing_secret", True), ("reply_secret", "reply_secret", False)]
    assert manifest["capabilities"] == ["receive", "send"]


def test_an_unknown_platform_is_refused():
    with pytest.raises(UnknownPlatform, match="nope"):
        create_adapter_app("nope", load_entrypoints=False, plugins=[fake_adapter])


def test_verify_accepts_a_genuine_delivery(server):
    response = server.post("/verify-webhook", json=stage_json(delivery(message())))
    assert response.status_code == 200
    assert VerdictSchema().load(response.get_json()).accepted is True


@pytest.mark.parametrize("token,reason", [("wrong-token", "X-Fake-Token is wrong"),
                                          (None, "missing X-Fake-Token")])
def test_verify_rejects_with_the_adapters_reason_and_status(server, token, reason):
    response = server.post("/verify-webhook", json=stage_json(delivery(message()), token))
    assert response.status_code == 200
    assert response.get_json() == {"accepted": False, "reason": reason, "status": 401}


def test_previous_credentials_are_not_used_by_the_server(server):
    body = stage_json(delivery(message()), token="old-token",
                      previous_credentials=[{"token": "old-token"}])
    assert server.post("/verify-webhook", json=body).get_json()["accepted"] is False


def test_parse_returns_the_normalised_messages(server):
    body = delivery(message(thread="t-9"), message(id="m-2", text="second"))
    response = server.post("/parse-inbound", json=stage_json(body))
    assert response.status_code == 200
    result = ParseResultSchema().load(response.get_json())
    assert [m.platform_message_id for m in result.messages] == ["m-1", "m-2"]
    assert result.messages[0].text == "Grüße, Zoë 👋"
    assert result.messages[0].thread_id == "t-9"
    assert result.challenge is None


def test_parse_returns_a_challenge(server):
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    body = json.dumps({"challenge": challenge}).encode()
    answer = server.post("/parse-inbound", json=stage_json(body)).get_json()
    assert answer["challenge"] == {"body": challenge, "status": 200,
                                   "content_type": "text/plain"}
    assert answer["messages"] == []


def test_parse_of_a_malformed_body_is_400_in_the_error_shape(server):
    response = server.post("/parse-inbound", json=stage_json(b"\x00not json"))
    assert response.status_code == 400
    assert response.get_json() == {"error": {"code": "malformed", "message": "not JSON",
                                             "details": {}}}


def test_a_message_that_does_not_fit_the_format_is_400_as_in_orqo(server):
    response = server.post("/parse-inbound", json=stage_json(delivery(message(), bad_result=True)))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "malformed" and "dedupe_key" in error["message"]


@pytest.mark.parametrize("body", [delivery(crash=True), delivery(not_a_result=True)])
def test_an_adapter_failure_is_500_without_details(server, body):
    response = server.post("/parse-inbound", json=stage_json(body))
    assert response.status_code == 500
    error = response.get_json()["error"]
    assert error["code"] == "adapter_error"
    assert "Traceback" not in response.get_data(as_text=True)
    assert "crashed" not in error["message"]


def test_invalid_credentials_are_422_naming_the_field(server):
    response = server.post("/verify-webhook", json=stage_json(delivery(message()), credentials={}))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_settings"
    assert error["details"] == {"credentials": {"token": ["Missing data for required field."]}}


def valid(**changes):
    return {**stage_json(delivery(message())), **changes}


@pytest.mark.parametrize("path", ["/verify-webhook", "/parse-inbound"])
@pytest.mark.parametrize("data,status,code", [
    (b"", 400, "bad_request"),
    (b"not json", 400, "bad_request"),
    (b"\xff\xfe", 400, "bad_request"),
    (b"[" * 100000 + b"]" * 100000, 400, "bad_request"),
    (b"[]", 422, "validation_error"),
    (b'"a string"', 422, "validation_error"),
    (b"{}", 422, "validation_error"),
    (json.dumps(valid(body="not base64!")).encode(), 422, "validation_error"),
    (json.dumps(valid(body=None)).encode(), 422, "validation_error"),
    (json.dumps(valid(headers=[["X-Fake-Token"]])).encode(), 422, "validation_error"),
    (json.dumps(valid(headers={"X-Fake-Token": TOKEN})).encode(), 422, "validation_error"),
    (json.dumps(valid(method="DELETE")).encode(), 422, "validation_error"),
    (json.dumps(valid(received_at="yesterday")).encode(), 422, "validation_error"),
    (json.dumps(valid(credentials=["token"])).encode(), 422, "validation_error"),
    (json.dumps(valid(config=None)).encode(), 422, "validation_error"),
    (json.dumps(valid(previous_credentials="x")).encode(), 422, "validation_error"),
])
def test_a_bad_request_is_4xx_in_the_error_shape_never_5xx(server, path, data, status, code):
    response = server.post(path, data=data, content_type="application/json")
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.get_json()["error"]) == {"code", "message", "details"}
    assert response.get_json()["error"]["code"] == code


def test_unknown_paths_methods_and_huge_bodies_get_the_error_shape(server):
    missing = server.get("/send-message")
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"
    for path in ("/verify-webhook", "/deliver"):
        wrong = server.get(path)
        assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    huge = server.post("/parse-inbound", data=b"x" * (9 * 1024 * 1024))
    assert huge.status_code == 413 and "error" in huge.get_json()


def test_adapter_serve_refuses_an_unknown_platform(runner):
    result = runner.invoke(args=["adapter-serve", "nope"])
    assert result.exit_code == 1
    error = json.loads(result.stderr)["error"]
    assert error["code"] == "unknown_platform"
    assert "custom" in error["details"]["installed"]  # what is installed, not the test app's


def test_adapter_serve_needs_both_certificate_and_key(runner, tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    result = runner.invoke(args=["adapter-serve", "fake", "--certfile", str(cert)])
    assert result.exit_code == 2
    assert "--certfile and --keyfile go together" in result.output
