"""A remote App passes the kit's send conformance suite, its adapter being the custom one served
by orqo's adapter server in-process (requests-mock hands the calls to the adapter's URL to the
server's test client), and the custom App's reply URL the kit's fake platform on loopback."""
import base64
import json

import orqo_custom
import orqo_remote
import pytest
import requests_mock
from orqo_remote.testing import serve_through

from orqo.adapter_server import create_adapter_app
from orqo.testing.platform import Answer
from orqo.testing.sending import SendConformance
from orqo.testing.signers import hmac_headers
from orqo.testing.signers import verify_standard_webhooks

ADAPTER_URL = "https://custom-adapter.example"
SIGNING_SECRET = "custom-signing-s3cret"
REPLY_SECRET = "whsec_" + base64.b64encode(b"conformance-reply-key-0123456789").decode()
REPLY_PATH = "/orqo/replies"


class TestRemoteCustomSendConformance(SendConformance):
    plugin = orqo_remote
    platform = "remote"
    credentials = {"signing_secret": SIGNING_SECRET, "reply_secret": REPLY_SECRET}
    recipient = "ada"
    in_reply_to = {"platform_message_id": "m-17", "chat_id": "ada", "thread_id": "ops-42",
                   "extra": {}}

    @pytest.fixture(autouse=True)
    def _adapter_served(self):
        # real_http: the served adapter's own calls (to the fake platform) go out for real.
        with requests_mock.Mocker(real_http=True) as mock:
            serve_through(mock, ADAPTER_URL, create_adapter_app(
                "custom", load_entrypoints=False, plugins=[orqo_custom]))
            yield

    def app_config(self, base_url):
        return {"url": ADAPTER_URL, "adapter_config": {"reply_url": base_url + REPLY_PATH}}

    def send_path(self):
        return REPLY_PATH

    def sent_answer(self):
        return Answer.of(200, json={"id": "rcv-9"})

    def rate_limited_answer(self):
        return Answer.of(429, json={"error": "slow down"}, headers={"Retry-After": "7"}), 7.0

    def permanent_failure_answer(self):
        return Answer.of(400, json={"error": "unknown recipient ada"}), "unknown recipient ada"

    def transient_failure_answer(self):
        return Answer.of(503, body="<html><body>Service Unavailable</body></html>")

    def malformed_answers(self):
        # Any 2xx means the custom receiver took the message, so only failing statuses stay.
        return {name: answer for name, answer in super().malformed_answers().items()
                if not 200 <= answer.status < 300}

    def check_request(self, request):
        payload = verify_standard_webhooks(REPLY_SECRET, request.headers, request.body)
        assert payload["recipient"] == "ada"

    def check_reply_request(self, request, in_reply_to):
        payload = verify_standard_webhooks(REPLY_SECRET, request.headers, request.body)
        assert payload["in_reply_to"] == in_reply_to

    def answer_delivery(self, sent):
        body = json.dumps({"id": "m-18", "sender": "ada", "text": "Mittwoch",
                           "reply_to": sent.reply_key}).encode()
        return body, {**hmac_headers(SIGNING_SECRET, body), "Content-Type": "application/json"}
