"""The kit's send-stage conformance suite (orqo.testing.sending) run against the Slack adapter."""
import json

import orqo_slack
from orqo.testing.platform import Answer
from orqo.testing.sending import SendConformance
from orqo.testing.signers import bearer_token
from orqo.testing.signers import slack_headers

TOKEN = "xoxb-1234-5678-abcdefghijkl"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


class TestSlackSendConformance(SendConformance):
    plugin = orqo_slack
    platform = "slack"
    credentials = {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": TOKEN}
    recipient = "T0ACME123:U0ADA0001"
    in_reply_to = {"platform_message_id": "1717171717.000200", "chat_id": "D0DM00001",
                   "thread_id": None, "extra": {}}

    def send_path(self):
        return "/chat.postMessage"

    def sent_answer(self):
        return Answer.of(200, json={"ok": True, "channel": "D0DM00001",
                                    "ts": "1503435956.000247",
                                    "message": {"type": "message", "text": "x",
                                                "ts": "1503435956.000247"}})

    def rate_limited_answer(self):
        return Answer.of(429, json={"ok": False, "error": "ratelimited"},
                         headers={"Retry-After": "3"}), 3.0

    def permanent_failure_answer(self):
        return Answer.of(200, json={"ok": False, "error": "channel_not_found"}), \
            "channel_not_found"

    def transient_failure_answer(self):
        return Answer.of(200, json={"ok": False, "error": "internal_error"})

    def check_request(self, request):
        assert bearer_token(request.headers) == TOKEN

    def answer_delivery(self, sent):
        body = json.dumps({"type": "event_callback", "team_id": "T0ACME123", "api_app_id": "A1",
                           "event_id": "Ev0ANSWER1", "event": {
                               "type": "message", "channel": sent.chat_id, "user": "U0ADA0001",
                               "channel_type": "im", "text": "Wednesday",
                               "ts": "1503436000.000100", "thread_ts": sent.reply_key}}).encode()
        return body, slack_headers(SECRET, body)
