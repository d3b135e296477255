"""The WhatsApp adapter's send stage passes orqo's send conformance suite (a fake Graph API on
loopback, Meta's documented answers)."""
import orqo_whatsapp
from orqo_whatsapp.sending import PAIR_RATE_LIMIT_WAIT
from orqo_whatsapp.testing import contact
from orqo_whatsapp.testing import encode
from orqo_whatsapp.testing import notification
from orqo_whatsapp.testing import text_message

from orqo.testing.platform import Answer
from orqo.testing.sending import SendConformance
from orqo.testing.signers import meta_headers

PHONE_NUMBER_ID = "106540352242922"
JUERGEN = "4915112345678"
QUESTION = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFDNBMEQ5RjZGQjQ2RjM0N0Y3RjFFAA=="


def meta_error(status, code, message, details):
    return Answer.of(status, json={"error": {
        "message": message, "type": "OAuthException", "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details},
        "fbtrace_id": "AazVAOpd1RBh7oQ6CN_ZqVx"}})


class TestWhatsAppSendConformance(SendConformance):
    plugin = orqo_whatsapp
    platform = "whatsapp"
    credentials = {"WHATSAPP_APP_SECRET": "6f1c3e0b9a8d4c2e8f7a6b5c4d3e2f1a",
                   "WHATSAPP_VERIFY_TOKEN": "meatyhamhock-2024",
                   "WHATSAPP_ACCESS_TOKEN": "EAAJB0conformanceSendToken",
                   "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID}
    non_secret_credentials = ("WHATSAPP_PHONE_NUMBER_ID",)
    recipient = JUERGEN
    in_reply_to = {"platform_message_id": QUESTION, "chat_id": JUERGEN, "thread_id": None,
                   "extra": {}}

    def send_path(self):
        return f"/v25.0/{PHONE_NUMBER_ID}/messages"

    def sent_answer(self):
        return Answer.of(200, json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": JUERGEN, "wa_id": JUERGEN}],
            "messages": [{"id": "wamid.HBgNNDkxNTExMjM0NTY3OBUCABEYEjVGNDI1QTc0RjEzMDMzNA=="}]})

    def rate_limited_answer(self):
        return meta_error(400, 131056, "(#131056) (Business Account, Consumer Account) pair "
                          "rate limit hit", "Message failed to send because there were too "
                          "many messages sent from this phone number to the same phone number "
                          "in a short period of time."), PAIR_RATE_LIMIT_WAIT

    def permanent_failure_answer(self):
        return meta_error(400, 131026, "Message undeliverable",
                          "Message Undeliverable."), "(#131026) Message undeliverable"

    def transient_failure_answer(self):
        return meta_error(500, 131000, "Something went wrong",
                          "Message failed to send due to an unknown error.")

    def check_request(self, request):
        assert request.headers["Authorization"] == "Bearer EAAJB0conformanceSendToken"
        body = request.json()
        assert (body["messaging_product"], body["recipient_type"], body["to"], body["type"]) \
            == ("whatsapp", "individual", JUERGEN, "text")

    def check_reply_request(self, request, in_reply_to):
        assert request.json()["context"] == {"message_id": in_reply_to["platform_message_id"]}

    def answer_delivery(self, sent):
        body = encode(notification(
            [text_message(JUERGEN, "wamid.answer", "Ja, passt",
                          context={"from": "15550783881", "id": sent.reply_key})],
            [contact(JUERGEN, "Jürgen Müller")]))
        return body, meta_headers(self.credentials["WHATSAPP_APP_SECRET"], body)

