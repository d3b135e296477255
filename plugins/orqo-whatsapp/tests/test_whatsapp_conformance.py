"""The WhatsApp adapter passes the adapter conformance suite."""
import orqo_whatsapp
from orqo_whatsapp.testing import contact
from orqo_whatsapp.testing import encode
from orqo_whatsapp.testing import notification
from orqo_whatsapp.testing import text_message

from orqo.testing.conformance import AdapterConformance
from orqo.testing.conformance import Challenge
from orqo.testing.signers import meta_headers


class TestWhatsAppConformance(AdapterConformance):
    plugin = orqo_whatsapp
    platform = "whatsapp"
    credentials = {"WHATSAPP_APP_SECRET": "6f1c3e0b9a8d4c2e8f7a6b5c4d3e2f1a",
                   "WHATSAPP_VERIFY_TOKEN": "meatyhamhock-2024",
                   "WHATSAPP_ACCESS_TOKEN": "EAAJB0conformanceToken",
                   "WHATSAPP_PHONE_NUMBER_ID": "106540352242922"}
    other_credentials = {"WHATSAPP_APP_SECRET": "0a9b8c7d6e5f40312233445566778899",
                         "WHATSAPP_VERIFY_TOKEN": "another-verify-token"}
    signature_headers = ("X-Hub-Signature-256",)
    timestamp_window = None
    sender_id = "4915112345678"

    def delivery(self, sender_id, message_id, text):
        return encode(notification(
            messages=[text_message(sender_id, f"wamid.HBgNNDkxNTExMjM0NTY3OBUCABIY{message_id}",
                                   text)],
            contacts=[contact(sender_id, "Jürgen Müller")]))

    def sign(self, credentials, body, timestamp):
        return meta_headers(credentials["WHATSAPP_APP_SECRET"], body)

    def challenge(self, credentials):
        return Challenge(method="GET", query={
            "hub.mode": "subscribe",
            "hub.verify_token": credentials["WHATSAPP_VERIFY_TOKEN"],
            "hub.challenge": "1158201444",
        }, expected_body=b"1158201444")
