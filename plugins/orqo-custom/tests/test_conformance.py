"""The custom adapter passes the adapter conformance suite."""
import json

import orqo_custom

from orqo.testing.conformance import AdapterConformance
from orqo.testing.signers import hmac_headers


class TestCustomConformance(AdapterConformance):
    plugin = orqo_custom
    platform = "custom"
    credentials = {"signing_secret": "conformance-secret-A"}
    other_credentials = {"signing_secret": "conformance-secret-B"}
    signature_headers = ("X-Signature-256",)
    sender_id = "user-42"

    def delivery(self, sender_id, message_id, text):
        return json.dumps({"id": message_id, "sender": sender_id, "sender_name": "Ada",
                           "text": text, "thread": "t-1", "chat": "support"},
                          ensure_ascii=False).encode()

    def sign(self, credentials, body, timestamp):
        return hmac_headers(credentials["signing_secret"], body)
