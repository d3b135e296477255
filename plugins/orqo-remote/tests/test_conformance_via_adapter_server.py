"""A remote App passes the adapter conformance suite, its adapter being the custom one served by
orqo's adapter server (in-process: requests-mock hands each call to the server's test client).
"""
import dataclasses
import json
import time

import orqo_custom
import orqo_remote
import pytest
from orqo_remote.testing import serve_through

from orqo.adapter_server import create_adapter_app
from orqo.schemas import MessageSchema
from orqo.testing.conformance import AdapterConformance
from orqo.testing.conformance import make_stage_request
from orqo.testing.signers import hmac_headers

ADAPTER_URL = "https://custom-adapter.example"


class TestRemoteCustomConformance(AdapterConformance):
    plugin = orqo_remote
    platform = "remote"
    credentials = {"signing_secret": "conformance-secret-A"}
    other_credentials = {"signing_secret": "conformance-secret-B"}
    config = {"url": ADAPTER_URL}
    signature_headers = ("X-Signature-256",)
    sender_id = "user-42"

    @pytest.fixture(autouse=True)
    def _adapter_served(self, requests_mock):
        server = create_adapter_app("custom", load_entrypoints=False, plugins=[orqo_custom])
        serve_through(requests_mock, ADAPTER_URL, server)

    def delivery(self, sender_id, message_id, text):
        return json.dumps({"id": message_id, "sender": sender_id, "sender_name": "Zoë",
                           "text": text, "thread": "t-1", "chat": "support"},
                          ensure_ascii=False).encode()

    def sign(self, credentials, body, timestamp):
        return hmac_headers(credentials["signing_secret"], body)

    def test_conformance_parsed_messages_are_valid_normalised_messages(self, conformance):
        # As the suite's check, but the messages are the served adapter's: platform "custom".
        adapter = conformance.app.extensions["orqo"].adapters[self.platform]
        body = self._body()
        with conformance.app.app_context():
            credentials, config = adapter.validate_settings(self.credentials, self.config)
        request = make_stage_request(conformance.app_id, self.platform, body,
                                     self.sign(self.credentials, body, time.time()),
                                     credentials, config)
        assert adapter.verify(request).accepted
        result = adapter.parse(request)
        assert result.messages
        for message in result.messages:
            loaded = MessageSchema().load(dataclasses.asdict(message))
            assert loaded.dedupe_key == "conformance-1"
            assert (loaded.platform, loaded.sender_id) == ("custom", self.sender_id)

    def test_standard_webhooks_config_reaches_the_served_adapter(self, conformance):
        from orqo.testing.signers import standard_webhooks_headers

        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        app_id = conformance.add_app("remote", {"signing_secret": secret}, {
            "url": ADAPTER_URL, "adapter_config": '{"mode": "standard-webhooks"}'},
            name="Standard Webhooks App")
        conformance.add_contact({app_id: "user-7"}, name="Grace")
        body = json.dumps({"sender": "user-7", "text": "Hallo 🌍"}, ensure_ascii=False).encode()
        headers = standard_webhooks_headers(secret, body, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
        response = conformance.deliver(app_id, body, headers)
        assert response.get_json()["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
        assert conformance.ledger(app_id)[0]["messages"][0]["dedupe_key"] == (
            "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
        assert conformance.deliver(app_id, body, {**headers, "webhook-signature": "v1,AAAA"}
                                   ).status_code == 401
