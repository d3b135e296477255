"""The kit's send-stage conformance suite (orqo.testing.sending) run against the Telegram
adapter."""
import json

import orqo_telegram
from orqo.testing.platform import Answer
from orqo.testing.sending import SendConformance
from orqo.testing.signers import telegram_bot_token

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "telegram-webhook-secret-1"


class TestTelegramSendConformance(SendConformance):
    plugin = orqo_telegram
    platform = "telegram"
    credentials = {"TELEGRAM_WEBHOOK_SECRET": SECRET, "TELEGRAM_BOT_TOKEN": TOKEN}
    recipient = "4242"
    in_reply_to = {"platform_message_id": "4242:17", "chat_id": "4242", "thread_id": None,
                   "extra": {"message_id": 17, "message_thread_id": None}}

    def send_path(self):
        return f"/bot{TOKEN}/sendMessage"

    def sent_answer(self):
        return Answer.of(200, json={"ok": True, "result": {
            "message_id": 501, "date": 1735689600, "text": "x",
            "chat": {"id": 4242, "type": "private", "first_name": "Ada"},
            "from": {"id": 123456789, "is_bot": True, "first_name": "orqo"}}})

    def rate_limited_answer(self):
        return Answer.of(429, json={"ok": False, "error_code": 429,
                                    "description": "Too Many Requests: retry after 5",
                                    "parameters": {"retry_after": 5}}), 5.0

    def permanent_failure_answer(self):
        return Answer.of(403, json={"ok": False, "error_code": 403,
                                    "description": "Forbidden: bot was blocked by the user"}), \
            "bot was blocked by the user"

    def transient_failure_answer(self):
        return Answer.of(502, body="<html><body>Bad Gateway</body></html>")

    def check_request(self, request):
        assert telegram_bot_token(request.path) == TOKEN

    def answer_delivery(self, sent):
        chat_id, message_id = sent.reply_key.split(":")
        body = json.dumps({"update_id": 70001, "message": {
            "message_id": 502, "date": 1735689700, "text": "Wednesday",
            "chat": {"id": int(chat_id), "type": "private", "first_name": "Ada"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Ada"},
            "reply_to_message": {"message_id": int(message_id), "date": 1735689600,
                                 "text": "x", "chat": {"id": int(chat_id), "type": "private"},
                                 "from": {"id": 123456789, "is_bot": True,
                                          "first_name": "orqo"}}}}).encode()
        return body, {"X-Telegram-Bot-Api-Secret-Token": SECRET,
                      "Content-Type": "application/json"}
