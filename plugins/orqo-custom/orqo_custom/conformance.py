"""The custom adapter's answers for the kit's send conformance suite
(:class:`orqo.testing.sending.SendConformance`): a receiver at the App's reply URL, answering
as a custom receiver does. Subclassed by this plugin's tests, and by the remote adapter's tests
that serve the custom adapter through ``orqo adapter-serve``. Imports pytest: for tests only."""
from __future__ import annotations

import base64
import json

from orqo.testing.platform import Answer
from orqo.testing.sending import SendConformance
from orqo.testing.signers import hmac_headers
from orqo.testing.signers import verify_standard_webhooks

SIGNING_SECRET = "custom-signing-s3cret"
REPLY_SECRET = "whsec_" + base64.b64encode(b"conformance-reply-key-0123456789").decode()
#: Where on the stand-in receiver the App's reply URL points.
REPLY_PATH = "/orqo/replies"


class ReplyConformance(SendConformance):
    """The suite's answers and checks for a custom App's replies; a subclass sets ``plugin``,
    ``platform`` and :meth:`app_config` (how its App reaches the reply URL)."""

    credentials = {"signing_secret": SIGNING_SECRET, "reply_secret": REPLY_SECRET}
    recipient = "ada"
    in_reply_to = {"platform_message_id": "m-17", "chat_id": "ada", "thread_id": "ops-42",
                   "extra": {}}

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
