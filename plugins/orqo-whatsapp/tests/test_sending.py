"""The WhatsApp adapter's send stage against Meta's real answer shapes (requests-mock).

Answers are Meta's documented ones (outbound.md §2): the text-message success with
``contacts`` and ``messages``, and ``{"error": {"message", "type", "code", "error_data",
"fbtrace_id"}}`` with the HTTP status Meta pairs with each code.
"""
import json

import orqo_whatsapp
import pytest
import requests
from marshmallow import ValidationError
from orqo_whatsapp import WhatsAppAdapter
from orqo_whatsapp.sending import PAIR_RATE_LIMIT_WAIT
from orqo_whatsapp.testing import contact
from orqo_whatsapp.testing import encode
from orqo_whatsapp.testing import notification
from orqo_whatsapp.testing import text_message

from orqo import deadlines
from orqo.outbound import Http
from orqo.stages import SendRequest
from orqo.testing import Harness
from orqo.testing.signers import meta_headers

TOKEN = "EAAJB0sendingSecretToken1234"
PHONE_NUMBER_ID = "106540352242922"
CREDENTIALS = {"WHATSAPP_APP_SECRET": "3f2a9c1b7e6d5a4f8b0c1d2e3f4a5b6c",
               "WHATSAPP_VERIFY_TOKEN": "verify", "WHATSAPP_ACCESS_TOKEN": TOKEN,
               "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID}
JUERGEN = "4915112345678"
GROUP = "Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD"
BASE = "http://127.0.0.1:8089"
URL = f"{BASE}/v25.0/{PHONE_NUMBER_ID}/messages"
SENT = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABEYEjVGNDI1QTc0RjEzMDMzNDkyQQA="
QUESTION = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFDNBMEQ5RjZGQjQ2RjM0N0Y3RjFFAA=="
TEMPLATE = {"name": "antwort_verfuegbar", "language": "de", "text_parameter": True}


def success(wamid=SENT, recipient=JUERGEN):
    return {"json": {"messaging_product": "whatsapp",
                     "contacts": [{"input": recipient, "wa_id": recipient}],
                     "messages": [{"id": wamid}]}}


def meta_error(status, code, message, details=None, **headers):
    error = {"message": message, "type": "OAuthException", "code": code,
             "fbtrace_id": "AazVAOpd1RBh7oQ6CN_ZqVx"}
    if details:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"status_code": status, "json": {"error": error}, "headers": headers}


WINDOW_CLOSED = meta_error(400, 131047, "Re-engagement message",
                           "Message failed to send because more than 24 hours have passed "
                           "since the customer last replied to this number.")


def request(text="Ihre Lieferung kommt morgen 📦", config=None, credentials=None, **fields):
    _, loaded = WhatsAppAdapter.validate_settings(CREDENTIALS, {"api_base_url": BASE,
                                                                **(config or {})})
    fields.setdefault("recipient", JUERGEN)
    return SendRequest(app_id="app-1", adapter="whatsapp",
                       credentials=CREDENTIALS if credentials is None else credentials,
                       config=loaded, message_id=42, text=text, **fields)


def send(send_request):
    return WhatsAppAdapter().send(send_request, Http(deadlines.make_session(), seconds=5))


def sent_bodies(requests_mock):
    return [json.loads(call.body) for call in requests_mock.request_history]


def test_a_text_is_posted_with_the_bearer_token_and_its_wamid_is_the_reply_key(requests_mock):
    requests_mock.post(URL, **success())
    result = send(request())
    assert (result.status, result.platform_message_id, result.reply_key, result.chat_id) == (
        "sent", SENT, SENT, JUERGEN)
    assert result.meta == {}
    [call] = requests_mock.request_history
    assert call.url == URL
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.headers["Content-Type"].startswith("application/json")
    assert json.loads(call.body) == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": JUERGEN,
        "type": "text", "text": {"body": "Ihre Lieferung kommt morgen 📦"},
        "biz_opaque_callback_data": "orqo:42"}


def test_a_reply_carries_the_context_of_the_message_it_answers(requests_mock):
    requests_mock.post(URL, **success())
    result = send(request(in_reply_to={"platform_message_id": QUESTION, "chat_id": JUERGEN,
                                       "thread_id": None, "extra": {}}))
    assert result.status == "sent"
    assert sent_bodies(requests_mock)[0]["context"] == {"message_id": QUESTION}


def test_a_group_message_is_answered_in_the_group(requests_mock):
    requests_mock.post(URL, **success(recipient=GROUP))
    result = send(request(chat_id=GROUP))
    assert (result.status, result.chat_id) == ("sent", GROUP)
    body = sent_bodies(requests_mock)[0]
    assert (body["recipient_type"], body["to"]) == ("group", GROUP)


def test_a_user_known_by_business_scoped_id_is_sent_to_as_recipient(requests_mock):
    requests_mock.post(URL, **success())
    bsuid = "US.13491208655302741918"
    result = send(request(recipient=bsuid, chat_id=bsuid))
    assert result.status == "sent"
    body = sent_bodies(requests_mock)[0]
    assert body["recipient"] == bsuid and "to" not in body


def test_the_api_version_and_a_trailing_slash_on_the_base_url(requests_mock):
    requests_mock.post(f"{BASE}/v23.0/{PHONE_NUMBER_ID}/messages", **success())
    result = send(request(config={"api_base_url": BASE + "/", "api_version": "v23.0"}))
    assert result.status == "sent"


def test_the_defaults_are_the_real_graph_api():
    _, config = WhatsAppAdapter.validate_settings(CREDENTIALS, {})
    assert (config["api_base_url"], config["api_version"], config["window_template"]) == (
        "https://graph.facebook.com", "v25.0", None)
    assert WhatsAppAdapter.credentials_destination(config) == "https://graph.facebook.com:443"
    assert WhatsAppAdapter.can_send(config)
    assert (WhatsAppAdapter.max_text_length, WhatsAppAdapter.send_interval) == (4096, 0)


def test_the_window_template_may_be_given_as_json_text_as_the_cli_passes_it():
    _, config = WhatsAppAdapter.validate_settings(CREDENTIALS, {
        "window_template": '{"name": "reply_ready", "language": "en_US"}'})
    assert config["window_template"] == {"name": "reply_ready", "language": "en_US",
                                         "text_parameter": False}


@pytest.mark.parametrize("config", [
    {"window_template": "reply_ready"}, {"window_template": "[1]"},
    {"window_template": '{"name": "reply_ready"}'}, {"window_template": 7},
    {"api_version": "25.0"}, {"api_version": "v25"}, {"api_version": "v25.0/../x"},
    {"api_base_url": "ftp://127.0.0.1"}, {"window_template": {"name": "Bad Name!",
                                                              "language": "de"}},
    {"window_template": {"name": "ok"}}, {"window_template": {"name": "ok", "language": "d"}},
])
def test_bad_settings_are_refused(config):
    with pytest.raises(ValidationError):
        WhatsAppAdapter.validate_settings(CREDENTIALS, config)


@pytest.mark.parametrize("missing", ["WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"])
def test_a_missing_credential_fails_naming_it(requests_mock, missing):
    credentials = {key: value for key, value in CREDENTIALS.items() if key != missing}
    result = send(request(credentials=credentials))
    assert result.status == "failed"
    assert f"the App has no {missing}" in result.reason
    assert not requests_mock.request_history


def test_a_text_longer_than_whatsapp_takes_fails_without_a_call(requests_mock):
    result = send(request(text="x" * 4097))
    assert result.status == "failed" and "4096" in result.reason
    assert not requests_mock.request_history


# --- the 24-hour window ----------------------------------------------------------------------

def test_outside_the_window_without_a_template_it_fails_with_metas_reason(requests_mock):
    requests_mock.post(URL, **WINDOW_CLOSED)
    result = send(request())
    assert result.status == "failed"
    assert result.reason.startswith("(#131047) Re-engagement message: Message failed to send "
                                    "because more than 24 hours have passed")
    assert "window_template" in result.reason
    assert len(requests_mock.request_history) == 1


def test_outside_the_window_the_template_is_sent_instead(requests_mock):
    requests_mock.post(URL, [WINDOW_CLOSED, success("wamid.template")])
    result = send(request(text="Ihr Paket\n\nist    da", config={"window_template": TEMPLATE},
                          in_reply_to={"platform_message_id": QUESTION}))
    assert (result.status, result.platform_message_id, result.reply_key) == (
        "sent", "wamid.template", "wamid.template")
    assert result.meta == {"template": "antwort_verfuegbar"}
    text, template = sent_bodies(requests_mock)
    assert text["type"] == "text" and text["context"] == {"message_id": QUESTION}
    assert template == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": JUERGEN,
        "biz_opaque_callback_data": "orqo:42", "type": "template",
        "template": {"name": "antwort_verfuegbar", "language": {"code": "de"},
                     "components": [{"type": "body", "parameters": [
                         {"type": "text", "text": "Ihr Paket ist da"}]}]}}


def test_a_template_without_the_text_parameter_has_no_components(requests_mock):
    requests_mock.post(URL, [WINDOW_CLOSED, success()])
    template = {"name": "bitte_antworten", "language": "en_US"}
    assert send(request(config={"window_template": template})).status == "sent"
    assert sent_bodies(requests_mock)[1]["template"] == {"name": "bitte_antworten",
                                                         "language": {"code": "en_US"}}


def test_a_template_that_fails_too_fails_with_both_reasons(requests_mock):
    requests_mock.post(URL, [WINDOW_CLOSED, meta_error(
        404, 132001, "(#132001) Template name does not exist in the translation",
        "template name (antwort_verfuegbar) does not exist in de")])
    result = send(request(config={"window_template": TEMPLATE}))
    assert result.status == "failed"
    assert result.reason.startswith("outside the 24-hour window; the template "
                                    "'antwort_verfuegbar' was not sent either: (#132001) "
                                    "Template name does not exist in the translation")


# --- rate limits and Meta's trouble ------------------------------------------------------

def test_throughput_limit_is_retried_with_orqos_backoff(requests_mock):
    requests_mock.post(URL, **meta_error(429, 130429, "Rate limit hit",
                                         "Cloud API message throughput has been reached."))
    result = send(request())
    assert (result.status, result.retry_after) == ("retry", None)
    assert result.reason == ("(#130429) Rate limit hit: Cloud API message throughput has "
                             "been reached.")


def test_a_retry_after_header_is_honoured(requests_mock):
    requests_mock.post(URL, **meta_error(429, 130429, "Rate limit hit", **{"Retry-After": "17"}))
    assert send(request()).retry_after == 17


def test_pair_rate_limit_waits_six_seconds(requests_mock):
    requests_mock.post(URL, **meta_error(
        400, 131056, "(#131056) (Business Account, Consumer Account) pair rate limit hit"))
    result = send(request())
    assert (result.status, result.retry_after) == ("retry", PAIR_RATE_LIMIT_WAIT)
    assert result.reason == "(#131056) (Business Account, Consumer Account) pair rate limit hit"


@pytest.mark.parametrize("status,code", [(500, 131000), (503, 2), (400, 4), (400, 80007),
                                         (400, 131057), (500, 131016), (400, 131048)])
def test_transient_codes_are_retried(requests_mock, status, code):
    requests_mock.post(URL, **meta_error(status, code, "Something went wrong"))
    result = send(request())
    assert result.status == "retry"
    assert result.reason == f"(#{code}) Something went wrong"


def test_an_http_500_with_code_131000_is_retried(requests_mock):
    requests_mock.post(URL, **meta_error(500, 131000, "Something went wrong",
                                         "Message failed to send due to an unknown error."))
    result = send(request())
    assert result.status == "retry"
    assert result.reason == ("(#131000) Something went wrong: Message failed to send due to "
                             "an unknown error.")


def test_a_200_without_messages_is_retried_with_a_reason(requests_mock):
    requests_mock.post(URL, json={"messaging_product": "whatsapp", "contacts": [
        {"input": JUERGEN, "wa_id": JUERGEN}]})
    result = send(request())
    assert result.status == "retry"
    assert "no messages[0].id" in result.reason and "HTTP 200" in result.reason


@pytest.mark.parametrize("answer", [
    {"status_code": 200, "text": "<html>ok</html>"},
    {"status_code": 200, "json": {"messages": [{"id": ""}]}},
    {"status_code": 200, "json": {"messages": "wamid.x"}},
    {"status_code": 200, "json": []},
])
def test_a_2xx_that_is_not_metas_success_is_retried(requests_mock, answer):
    requests_mock.post(URL, **answer)
    assert send(request()).status == "retry"


@pytest.mark.parametrize("status,outcome", [(502, "retry"), (429, "retry"), (408, "retry"),
                                            (404, "failed"), (400, "failed")])
def test_an_answer_without_metas_error_goes_by_http_status(requests_mock, status, outcome):
    requests_mock.post(URL, status_code=status, text="Bad Gateway")
    result = send(request())
    assert result.status == outcome
    assert result.reason == f"WhatsApp answered HTTP {status}: Bad Gateway"


def test_a_network_failure_is_left_to_the_worker(requests_mock):
    requests_mock.post(URL, exc=requests.ConnectionError)
    with pytest.raises(requests.RequestException):
        send(request())


# --- permanent errors ----------------------------------------------------------------------

def test_a_bad_token_fails_without_showing_it(requests_mock):
    requests_mock.post(URL, **meta_error(
        401, 190, f"Error validating access token: the token {TOKEN} has expired"))
    result = send(request())
    assert result.status == "failed"
    assert result.reason == ("(#190) Error validating access token: the token [token] has "
                             "expired")
    assert TOKEN not in result.reason


def test_an_undeliverable_recipient_fails(requests_mock):
    requests_mock.post(URL, **meta_error(400, 131026, "Message undeliverable",
                                         "Message Undeliverable."))
    result = send(request())
    assert (result.status, result.reason) == (
        "failed", "(#131026) Message undeliverable: Message Undeliverable.")


@pytest.mark.parametrize("code", [131051, 100, 131008, 131009, 132000, 0, 3, 10, 200, 299,
                                  368, 131031, 130497, 131062])
def test_permanent_codes_fail_even_with_a_5xx(requests_mock, code):
    requests_mock.post(URL, **meta_error(500, code, "Nope"))
    result = send(request())
    assert (result.status, result.reason) == ("failed", f"(#{code}) Nope")


def test_an_unknown_code_fails_after_a_4xx_and_is_retried_after_a_5xx(requests_mock):
    requests_mock.post(URL, [meta_error(400, 999999, "Brand new"),
                             meta_error(503, 999999, "Brand new")])
    assert send(request()).status == "failed"
    assert send(request()).status == "retry"


def test_an_error_without_a_code_still_has_a_reason(requests_mock):
    requests_mock.post(URL, status_code=400, json={"error": {"message": "Odd", "code": "x"}})
    result = send(request())
    assert (result.status, result.reason) == ("failed", "(no error code) Odd")


# --- the round trip: an answer to a sent message lands in its waitbox ---------------------

def test_a_quoted_answer_to_a_sent_message_answers_the_waitbox_bound_to_it(make_app,
                                                                           requests_mock):
    from orqo.extensions import db
    from orqo.models import Waitbox

    requests_mock.post(URL, **success())
    result = send(request(text="Passt Dienstag?"))
    harness = Harness(make_app(plugins=[orqo_whatsapp]))
    app_id = harness.add_app("whatsapp", CREDENTIALS)
    contact_id = harness.add_contact({app_id: JUERGEN}, name="Jürgen Müller")
    older = harness.open_waitbox(app_id, contact_id, reference="older question")
    bound = harness.open_waitbox(app_id, contact_id, reference="Passt Dienstag?")
    with harness.app.app_context():
        db.session.get(Waitbox, bound).reply_key = result.reply_key
        db.session.commit()

    body = encode(notification([text_message(JUERGEN, "wamid.answer", "Ja, Dienstag passt",
                                             context={"from": "15550783881", "id": SENT})],
                               [contact(JUERGEN, "Jürgen Müller")]))
    response = harness.deliver(app_id, body, meta_headers(CREDENTIALS["WHATSAPP_APP_SECRET"],
                                                          body))
    assert response.json["messages"] == [{"outcome": "routed", "handler": "waitbox"}]
    assert harness.waitbox(bound)["status"] == "answered"
    assert harness.waitbox(older)["status"] == "waiting"
