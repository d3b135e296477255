"""The conformance suite every adapter package runs against itself.

Subclass :class:`AdapterConformance` in a test module (the class name must start with
``Test``), fill in the class attributes and the three methods, and pytest runs every check::

    from orqo.testing.conformance import AdapterConformance
    from orqo.testing.signers import hmac_headers
    import orqo_echo

    class TestEchoConformance(AdapterConformance):
        plugin = orqo_echo
        platform = "echo"
        credentials = {"secret": "echo-secret-number-one"}
        other_credentials = {"secret": "echo-secret-number-two"}
        signature_headers = ("X-Signature-256",)

        def delivery(self, sender_id, message_id, text):
            return json.dumps({"id": message_id, "from": sender_id, "text": text}).encode()

        def sign(self, credentials, body, timestamp):
            return hmac_headers(credentials["secret"], body)

The checks: a signed delivery is accepted and routed; a wrong secret, one flipped body byte, a
missing, empty or repeated signature header, a stale or future timestamp (when the scheme has
one), a delivery signed for another App and the same JSON re-serialised (when the scheme signs
the body: the bytes are signed, not the JSON's meaning) are each rejected with 401 (or 403) and
nothing routed; the challenge round trip (when the platform has one); every parsed message is
valid against the normalised schema and carries a dedupe key; the same delivery twice is routed
once, and so is a captured delivery replayed a day later (or after its timestamp window): it is
recorded ``duplicate`` or rejected as stale; odd bodies carrying a valid signature (empty, not
JSON, not UTF-8, a JSON array, a truncated delivery...) are answered 4xx or 2xx, never 5xx.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest

import orqo.webhooks
from orqo.models import utcnow
from orqo.messages import check_message
from orqo.stages import StageRequest
from orqo.testing.fixtures import Harness


@dataclass
class Challenge:
    """A platform handshake and the answer the platform expects."""

    method: str
    body: bytes = b""
    headers: dict = dataclasses.field(default_factory=dict)
    query: dict = dataclasses.field(default_factory=dict)
    expected_status: int = 200
    expected_body: bytes = b""


def make_stage_request(app_id: str, adapter: str, body: bytes, headers: dict, credentials: dict,
                       config: dict, method="POST", query=None, received_at=None) -> StageRequest:
    """A :class:`StageRequest` as the pipeline builds it, for calling an adapter directly."""
    return StageRequest(
        app_id=app_id, adapter=adapter, method=method, path=f"/api/v1/webhooks/{app_id}",
        query=[[k, v] for k, v in (query or {}).items()],
        headers=[[k, v] for k, v in headers.items()], body=body, credentials=dict(credentials),
        config=dict(config), received_at=time.time() if received_at is None else received_at,
    )


def flip_one_byte(body: bytes) -> bytes:
    """``body`` with one byte in the middle changed (still the same length)."""
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1:]


class AdapterConformance:
    """Checks every adapter must pass. See the module docstring for how to use it."""

    #: The plugin module (or object) that registers the adapter.
    plugin = None
    #: The adapter's platform name.
    platform = ""
    #: Valid credentials of the App under test, and of a second App with other secrets.
    credentials: dict = {}
    other_credentials: dict = {}
    #: The App's adapter config (defaults are filled in by the adapter's schema).
    config: dict = {}
    #: The headers that carry the signature or secret token.
    signature_headers: tuple = ()
    #: Seconds a timestamp may be off, when the scheme signs a timestamp; None otherwise.
    timestamp_window: float | None = None
    #: The sender id :meth:`delivery` puts in its messages, as the adapter normalises it.
    sender_id: str = "sender-1"
    #: The raw sender value passed to :meth:`delivery` (defaults to :attr:`sender_id`).
    raw_sender: str | None = None

    def delivery(self, sender_id: str, message_id: str, text: str) -> bytes:
        """A realistic delivery body with one message from ``sender_id``."""
        raise AssertionError("an AdapterConformance subclass must define delivery()")

    def sign(self, credentials: dict, body: bytes, timestamp: float) -> dict:
        """The headers the platform sends with ``body`` for an App with ``credentials``."""
        raise AssertionError("an AdapterConformance subclass must define sign()")

    def challenge(self, credentials: dict) -> Challenge | None:
        """The platform's handshake for an App with ``credentials``, if it has one."""
        return None

    # --- set-up ---------------------------------------------------------------------------

    @pytest.fixture
    def conformance(self, make_app):
        """A Harness with the App under test (``app_id``), a second App and a Contact."""
        harness = Harness(make_app(plugins=[self.plugin]))
        harness.app_id = harness.add_app(self.platform, self.credentials, self.config)
        harness.other_app_id = harness.add_app(self.platform, self.other_credentials, self.config,
                                               name="Other App")
        harness.contact_id = harness.add_contact({harness.app_id: self.sender_id,
                                                  harness.other_app_id: self.sender_id})
        return harness

    def _body(self, message_id="conformance-1", text="Hello from the conformance suite ✓"):
        return self.delivery(self.raw_sender or self.sender_id, message_id, text)

    def _post(self, harness, body, headers, app_id=None):
        return harness.deliver(app_id or harness.app_id, body, headers)

    def _assert_rejected(self, harness, response):
        assert response.status_code in (401, 403), response.get_data(as_text=True)
        entry = harness.ledger()[0]
        assert entry["outcome"] == "rejected_signature"
        assert entry["messages"] == []

    # --- checks ---------------------------------------------------------------------------

    def test_conformance_signed_delivery_is_routed(self, conformance):
        body = self._body()
        response = self._post(conformance, body, self.sign(self.credentials, body, time.time()))
        assert response.status_code == 200, response.get_data(as_text=True)
        outcomes = response.get_json()["messages"]
        assert outcomes and outcomes[0]["outcome"] == "routed", outcomes

    def test_conformance_wrong_secret_is_rejected(self, conformance):
        body = self._body()
        self._assert_rejected(conformance, self._post(
            conformance, body, self.sign(self.other_credentials, body, time.time())))

    def test_conformance_flipped_byte_is_rejected(self, conformance):
        if not self.signs_body:
            pytest.skip(f"{self.platform} signs no body: its secret token is checked instead")
        body = self._body()
        headers = self.sign(self.credentials, body, time.time())
        self._assert_rejected(conformance, self._post(conformance, flip_one_byte(body), headers))

    def test_conformance_missing_signature_header_is_rejected(self, conformance):
        body = self._body()
        for header in self.signature_headers:
            headers = self.sign(self.credentials, body, time.time())
            headers = {k: v for k, v in headers.items() if k.lower() != header.lower()}
            self._assert_rejected(conformance, self._post(conformance, body, headers))

    def test_conformance_empty_signature_header_is_rejected(self, conformance):
        body = self._body()
        for header in self.signature_headers:
            headers = self.sign(self.credentials, body, time.time())
            headers = {k: ("" if k.lower() == header.lower() else v) for k, v in headers.items()}
            self._assert_rejected(conformance, self._post(conformance, body, headers))

    def test_conformance_repeated_signature_header_is_rejected(self, conformance):
        body = self._body()
        for header in self.signature_headers:
            headers = self.sign(self.credentials, body, time.time())
            forged = self.sign(self.other_credentials, body, time.time())
            pairs = list(headers.items()) + [(k, v) for k, v in forged.items()
                                             if k.lower() == header.lower()]
            self._assert_rejected(conformance, self._post(conformance, body, pairs))

    def test_conformance_case_varied_header_names_are_accepted(self, conformance):
        body = self._body()
        headers = {k.upper(): v for k, v in self.sign(self.credentials, body, time.time()).items()}
        assert self._post(conformance, body, headers).status_code == 200

    def test_conformance_stale_timestamp_is_rejected(self, conformance):
        if self.timestamp_window is None:
            pytest.skip(f"{self.platform}'s signature has no timestamp")
        body = self._body()
        stale = time.time() - self.timestamp_window - 60
        self._assert_rejected(conformance, self._post(
            conformance, body, self.sign(self.credentials, body, stale)))

    def test_conformance_future_timestamp_is_rejected(self, conformance):
        if self.timestamp_window is None:
            pytest.skip(f"{self.platform}'s signature has no timestamp")
        body = self._body()
        future = time.time() + self.timestamp_window + 60
        self._assert_rejected(conformance, self._post(
            conformance, body, self.sign(self.credentials, body, future)))

    def test_conformance_delivery_signed_for_another_app_is_rejected(self, conformance):
        body = self._body()
        for_other = self.sign(self.other_credentials, body, time.time())
        assert self._post(conformance, body, for_other, conformance.other_app_id).status_code == 200
        self._assert_rejected(conformance, self._post(conformance, body, for_other))

    def test_conformance_challenge_round_trip(self, conformance):
        challenge = self.challenge(self.credentials)
        if challenge is None:
            pytest.skip(f"{self.platform} has no handshake")
        response = conformance.deliver(conformance.app_id, challenge.body, challenge.headers,
                                       method=challenge.method, query=challenge.query)
        assert response.status_code == challenge.expected_status
        assert response.data == challenge.expected_body
        assert conformance.ledger()[0]["outcome"] == "challenge"
        wrong = self.challenge(self.other_credentials)
        rejected = conformance.deliver(conformance.app_id, wrong.body, wrong.headers,
                                       method=wrong.method, query=wrong.query)
        assert rejected.status_code in (401, 403)
        assert rejected.data != challenge.expected_body

    def test_conformance_parsed_messages_are_valid_normalised_messages(self, conformance):
        adapter = conformance.app.extensions["orqo"].adapters[self.platform]
        body = self._body()
        credentials, config = adapter.validate_settings(self.credentials, self.config)
        request = make_stage_request(conformance.app_id, self.platform, body,
                                     self.sign(self.credentials, body, time.time()),
                                     credentials, config)
        assert adapter.verify(request).accepted
        result = adapter.parse(request)
        assert result.messages, "the sample delivery must yield at least one message"
        for message in result.messages:
            loaded = check_message(copy.deepcopy(message))  # what the pipeline checks
            assert loaded.dedupe_key
            assert loaded.platform == self.platform
            assert loaded.sender_id == self.sender_id

    def test_conformance_same_delivery_twice_is_routed_once(self, conformance):
        body = self._body()
        headers = self.sign(self.credentials, body, time.time())
        first = self._post(conformance, body, headers).get_json()["messages"]
        second = self._post(conformance, body, headers).get_json()["messages"]
        assert [m["outcome"] for m in first] == ["routed"] * len(first)
        assert [m["outcome"] for m in second] == ["duplicate"] * len(second)

    def test_conformance_reserialised_json_is_rejected(self, conformance):
        if not self.signs_body:
            pytest.skip(f"{self.platform} signs no body: its secret token is checked instead")
        body = self._body()
        try:
            document = json.loads(body)
        except ValueError:
            pytest.skip(f"{self.platform}'s sample delivery is not JSON")
        headers = self.sign(self.credentials, body, time.time())
        # The same JSON value, as another serialiser (or a proxy that re-encodes) would write it.
        variants = {json.dumps(document).encode(),
                    json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode(),
                    json.dumps(document, indent=2, sort_keys=True).encode()} - {body}
        assert variants, "every re-serialisation gave the original bytes"
        for variant in sorted(variants):
            self._assert_rejected(conformance, self._post(conformance, variant, headers))

    def test_conformance_delivery_replayed_later_is_not_routed_again(self, conformance,
                                                                      monkeypatch):
        body = self._body(message_id="conformance-replay")
        headers = self.sign(self.credentials, body, time.time())
        first = self._post(conformance, body, headers)
        assert [m["outcome"] for m in first.get_json()["messages"]] == ["routed"]
        # A captured delivery sent again with its original headers a day later, or just past
        # the timestamp window when the scheme has one.
        later = timedelta(seconds=86400 if self.timestamp_window is None
                          else self.timestamp_window + 3600)
        monkeypatch.setattr(orqo.webhooks, "utcnow", lambda: utcnow() + later)
        replay = self._post(conformance, body, headers)
        entry = conformance.ledger()[0]
        if replay.status_code in (401, 403):  # stale: the scheme's timestamp window refused it
            assert entry["outcome"] == "rejected_signature" and entry["messages"] == []
        else:
            assert replay.status_code == 200, replay.get_data(as_text=True)
            assert [m["outcome"] for m in entry["messages"]] == ["duplicate"]
        routed = [m for d in conformance.ledger() for m in d["messages"]
                  if m["outcome"] == "routed"]
        assert len(routed) == 1

    def odd_bodies(self) -> dict:
        """Bodies no platform means, each sent with a valid signature by
        :meth:`test_conformance_signed_odd_bodies_are_never_a_5xx`."""
        body = self._body()
        return {
            "empty": b"",
            "not JSON": b"<xml>not json</xml>",
            "not UTF-8": b'{"text": "\xff\xfe\xfd"}',
            "a JSON array": b"[" + body + b"]",
            "a JSON string": b'"hello"',
            "JSON null": b"null",
            "an empty object": b"{}",
            "truncated": body[:len(body) // 2],
            "a huge number": b'{"id": ' + b"9" * 5000 + b"}",
            "NaN and infinity": b'{"a": NaN, "b": Infinity, "c": 1e999}',
            "NUL and a lone surrogate": b'{"a": "\\u0000", "b": "\\ud800"}',
        }

    def test_conformance_signed_odd_bodies_are_never_a_5xx(self, conformance):
        sent = 0
        for name, body in self.odd_bodies().items():
            try:
                headers = self.sign(self.credentials, body, time.time())
            except Exception:  # a sign() that reads the body (e.g. for an id) cannot sign this
                continue
            response = self._post(conformance, body, headers)
            sent += 1
            assert response.status_code < 500, (name, response.get_data(as_text=True))
            if response.status_code >= 400:
                assert set(response.get_json()["error"]) == {"code", "message", "details"}
        if not sent:
            pytest.skip("this suite's sign() can sign none of the odd bodies")

    #: Whether the scheme's signature covers the body (Telegram's secret token does not).
    signs_body = True
