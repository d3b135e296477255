"""The kit's send-stage conformance suite (orqo.testing.sending) run against the custom
adapter, its reply URL on the kit's fake platform."""
import base64
import json

import orqo_custom
from orqo.testing.platform import Answer
from orqo.testing.sending import SendConformance
from orqo.testing.signers import hmac_headers
from orqo.testing.signers import verify_standard_webhooks

SIGNING_SECRET = "custom-signing-s3cret"
REPLY_SECRET = "whsec_" + base64.b64encode(b"conformance-reply-key-0123456789").decode()
REPLY_PATH = "/orqo/replies"


class TestCustomSendConformance(SendConformance):
    plugin = orqo_custom
    platform = "custom"
    credentials = {"signing_secret": SIGNING_SECRET, "reply_secret": REPLY_SECRET}
    recipient = "ada"
    in_reply_to = {"platform_message_id": "m-17", "chat_id": "ada", "thread_id": "ops-42",
                   "extra": {}}

    def app_config(self, base_url):
        return {"reply_url": base_url + REPLY_PATH}

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
        # Any 2xx means the receiver took the message (its id is optional), so only the
        # failing statuses stay.
        return {name: answer for name, answer in super().malformed_answers().items()
                if not 200 <= answer.status < 300}

    def check_request(self, request):
        payload = verify_standard_webhooks(REPLY_SECRET, request.headers, request.body)
        assert payload["type"] == "message.outbound" and payload["recipient"] == "ada"
        assert request.headers["webhook-id"] == f"msg_{payload['message_id']}"

    def check_reply_request(self, request, in_reply_to):
        payload = verify_standard_webhooks(REPLY_SECRET, request.headers, request.body)
        assert payload["in_reply_to"] == in_reply_to

    def answer_delivery(self, sent):
        body = json.dumps({"id": "m-18", "sender": "ada", "text": "Mittwoch",
                           "reply_to": sent.reply_key}).encode()
        return body, {**hmac_headers(SIGNING_SECRET, body), "Content-Type": "application/json"}
