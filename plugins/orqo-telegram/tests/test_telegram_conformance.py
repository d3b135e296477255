"""The Telegram adapter passes the adapter conformance suite."""
import json
import zlib

import orqo_telegram

from orqo.testing.conformance import AdapterConformance
from orqo.testing.signers import telegram_headers


class TestTelegramConformance(AdapterConformance):
    plugin = orqo_telegram
    platform = "telegram"
    credentials = {"TELEGRAM_WEBHOOK_SECRET": "conformance_Secret-A",
                   "TELEGRAM_BOT_TOKEN": "123456:ABC-DEF1234ghIkl-zyx57W2v1u123ew11"}
    other_credentials = {"TELEGRAM_WEBHOOK_SECRET": "conformance_Secret-B"}
    signature_headers = ("X-Telegram-Bot-Api-Secret-Token",)
    timestamp_window = None
    signs_body = False
    sender_id = "123456789"

    def delivery(self, sender_id, message_id, text):
        # Telegram's ids are integers: derive stable ones from the suite's message id.
        number = zlib.crc32(message_id.encode()) % 2_000_000_000
        user = {"id": int(sender_id), "is_bot": False, "first_name": "Ada",
                "last_name": "Lovelace", "username": "ada_l", "language_code": "en"}
        return json.dumps({
            "update_id": number,
            "message": {
                "message_id": number % 100_000, "from": user,
                "chat": {"id": int(sender_id), "first_name": "Ada", "last_name": "Lovelace",
                         "username": "ada_l", "type": "private"},
                "date": 1717171717, "text": text,
            },
        }, ensure_ascii=False).encode()

    def sign(self, credentials, body, timestamp):
        return telegram_headers(credentials["TELEGRAM_WEBHOOK_SECRET"])

    def challenge(self, credentials):
        return None  # setWebhook is called by the bot owner; Telegram sends no handshake
