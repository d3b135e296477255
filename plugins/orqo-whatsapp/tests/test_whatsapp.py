"""The WhatsApp Cloud API adapter: handshake, signature, and every kind of notification."""
import dataclasses
import hashlib
import hmac
import json

import orqo_whatsapp
import pytest
from orqo_whatsapp import SIGNATURE_HEADER
from orqo_whatsapp import WhatsAppAdapter
from orqo_whatsapp import sign
from orqo_whatsapp.testing import contact
from orqo_whatsapp.testing import edit_message
from orqo_whatsapp.testing import encode
from orqo_whatsapp.testing import encode_escaped
from orqo_whatsapp.testing import message
from orqo_whatsapp.testing import notification
from orqo_whatsapp.testing import status
from orqo_whatsapp.testing import text_message
from orqo_whatsapp.testing import value
from pywa.utils import webhook_updates_validator

from orqo import create_app
from orqo.errors import ApiError
from orqo.errors import MalformedDelivery
from orqo.schemas import MessageSchema
from orqo.testing import Harness
from orqo.testing.conformance import make_stage_request
from orqo.testing.signers import meta_headers

APP_SECRET = "3f2a9c1b7e6d5a4f8b0c1d2e3f4a5b6c"
VERIFY_TOKEN = "Verify-Token_with spaces & ümlauts"
CREDENTIALS = {"WHATSAPP_APP_SECRET": APP_SECRET, "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
               "WHATSAPP_ACCESS_TOKEN": "EAAJB0secretAccessToken", "WHATSAPP_PHONE_NUMBER_ID":
               "106540352242922"}
JUERGEN = "4915112345678"
AMARA = "2348031234567"
WAMID = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFDNBMEQ5RjZGQjQ2RjM0N0Y3RjFFAA=="
MEDIA_ID = "1503278250548829"
SHA = "4a1c3f0e8b2d6a9c7e5f1b3d2a4c6e8f0a1b3c5d7e9f2a4b6c8d0e1f3a5b7c9d"


@pytest.fixture
def wa(make_app):
    """A Harness with one WhatsApp App (``wa.app_id``) and Jürgen registered on it."""
    harness = Harness(make_app(plugins=[orqo_whatsapp]))
    harness.app_id = harness.add_app("whatsapp", CREDENTIALS)
    harness.contact_id = harness.add_contact({harness.app_id: JUERGEN}, name="Jürgen Müller")
    return harness


def post(harness, body: bytes, secret=APP_SECRET, **kwargs):
    return harness.deliver(harness.app_id, body, meta_headers(secret, body), **kwargs)


def parse(body: bytes, config=None):
    """The adapter's ParseResult for a delivery signed with the right secret."""
    adapter = WhatsAppAdapter()
    credentials, config = adapter.validate_settings(CREDENTIALS, config or {})
    request = make_stage_request("app-1", "whatsapp", body, meta_headers(APP_SECRET, body),
                                 credentials, config)
    assert adapter.verify(request).accepted
    result = adapter.parse(request)
    for each in result.messages:
        MessageSchema().load(dataclasses.asdict(each))
    return result


def one(item: dict, config=None, contacts=None):
    """The single Message the adapter makes of one ``messages[]`` item."""
    body = encode(notification([item], contacts or [contact(JUERGEN, "Jürgen Müller")]))
    [parsed] = parse(body, config).messages
    return parsed


def handshake(harness, **query):
    return harness.deliver(harness.app_id, method="GET", query={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444",
        **query})


# --- installation and settings -------------------------------------------------------------

def test_plugin_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"})
    assert type(app.extensions["orqo"].adapters["whatsapp"]).__name__ == "WhatsAppAdapter"
    assert app.extensions["orqo"].adapter_plugins["whatsapp"] == "whatsapp"


def test_app_secret_and_verify_token_are_required(make_app):
    harness = Harness(make_app(plugins=[orqo_whatsapp]))
    with pytest.raises(ApiError) as excinfo:
        harness.add_app("whatsapp", {"WHATSAPP_PHONE_NUMBER_ID": "+49 151"},
                        {"route_reactions": "sometimes"})
    details = excinfo.value.details
    assert set(details["credentials"]) == {"WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN",
                                           "WHATSAPP_PHONE_NUMBER_ID"}
    assert "route_reactions" in details["config"]
    app_id = harness.add_app("whatsapp", {"WHATSAPP_APP_SECRET": "s" * 16,
                                          "WHATSAPP_VERIFY_TOKEN": "t"})
    assert app_id


# --- the GET handshake ---------------------------------------------------------------------

def test_handshake_echoes_the_challenge_as_text(wa):
    response = handshake(wa)
    assert response.status_code == 200
    assert response.data == b"1158201444"
    assert response.mimetype == "text/plain"
    assert wa.ledger()[0]["outcome"] == "challenge"


@pytest.mark.parametrize("query", [
    {"hub.verify_token": "wrong-token"},
    {"hub.verify_token": VERIFY_TOKEN.upper()},
    {"hub.verify_token": ""},
    {"hub.verify_token": None},
    {"hub.verify_token": [VERIFY_TOKEN, "other"]},
    {"hub.mode": "unsubscribe"},
    {"hub.mode": None},
])
def test_handshake_with_a_wrong_token_or_mode_is_403(wa, query):
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
              "hub.challenge": "1158201444", **query}
    params = {key: val for key, val in params.items() if val is not None}
    response = wa.deliver(wa.app_id, method="GET", query=params)
    assert response.status_code == 403
    assert b"1158201444" not in response.data
    entry = wa.ledger()[0]
    assert entry["outcome"] == "rejected_signature"
    assert VERIFY_TOKEN not in entry["reason"]


def test_handshake_without_a_challenge_is_400(wa):
    response = wa.deliver(wa.app_id, method="GET", query={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN})
    assert response.status_code == 400
    assert "hub.challenge" in response.json["error"]["message"]


def test_a_get_is_never_verified_by_a_body_signature(wa):
    response = wa.deliver(wa.app_id, b"", meta_headers(APP_SECRET, b""), method="GET")
    assert response.status_code == 403


def test_a_post_with_handshake_parameters_still_needs_a_signature(wa):
    body = encode(notification([text_message(JUERGEN, WAMID, "hallo")]))
    response = wa.deliver(wa.app_id, body, {}, query={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"})
    assert response.status_code == 401
    assert wa.ledger()[0]["outcome"] == "rejected_signature"


# --- the POST signature --------------------------------------------------------------------

def test_signature_is_hmac_sha256_of_the_raw_bytes(wa):
    text = "Grüße aus Köln 👋 — mail@example.com"
    body = encode(notification([text_message(JUERGEN, WAMID, text)],
                               [contact(JUERGEN, "Jürgen Müller")]))
    expected = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert sign(APP_SECRET, body) == expected == meta_headers(APP_SECRET, body)[SIGNATURE_HEADER]
    assert webhook_updates_validator(APP_SECRET, body, expected)  # pywa agrees
    response = post(wa, body)
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]


def test_escaped_body_verifies_and_reserialised_json_does_not(wa):
    document = notification([text_message(JUERGEN, WAMID, "Café @ Zürich / 12:00 🎉")],
                            [contact(JUERGEN, "Jürgen Müller")])
    body = encode_escaped(document)
    assert b"\\u0040" in body and b"\\/" in body
    signature = sign(APP_SECRET, body)
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert reserialised != body
    assert not webhook_updates_validator(APP_SECRET, reserialised, signature)  # pywa agrees
    rejected = wa.deliver(wa.app_id, reserialised, {SIGNATURE_HEADER: signature})
    assert rejected.status_code == 401
    accepted = wa.deliver(wa.app_id, body, {SIGNATURE_HEADER: signature})
    assert accepted.status_code == 200
    assert accepted.json["messages"][0]["outcome"] == "routed"


def test_uppercase_hex_is_accepted(wa):
    body = encode(notification([text_message(JUERGEN, WAMID, "hallo")]))
    value_ = "sha256=" + sign(APP_SECRET, body).removeprefix("sha256=").upper()
    assert wa.deliver(wa.app_id, body, {SIGNATURE_HEADER: value_}).status_code == 200


@pytest.mark.parametrize("mutate", [
    lambda sig: sig[:-1] + ("0" if sig[-1] != "0" else "1"),
    lambda sig: sig.replace("sha256=", "sha1="),
    lambda sig: sig.replace("sha256=", "SHA256="),
    lambda sig: sig.removeprefix("sha256="),
    lambda sig: sig[:-1],
    lambda sig: sig + "00",
    lambda sig: sig + " trailing",
    lambda sig: "sha256=",
    lambda sig: "",
    lambda sig: f"{sig}, {sig}",
    lambda sig: sign("another-app-secret", b"x"),
])
def test_bad_signatures_are_401(wa, mutate):
    body = encode(notification([text_message(JUERGEN, WAMID, "hallo")]))
    response = wa.deliver(wa.app_id, body, {SIGNATURE_HEADER: mutate(sign(APP_SECRET, body))})
    assert response.status_code == 401
    entry = wa.ledger()[0]
    assert entry["outcome"] == "rejected_signature"
    assert APP_SECRET not in entry["reason"]


def test_legacy_sha1_header_alone_is_not_enough(wa):
    body = encode(notification([text_message(JUERGEN, WAMID, "hallo")]))
    sha1 = "sha1=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
    response = wa.deliver(wa.app_id, body, {"X-Hub-Signature": sha1})
    assert response.status_code == 401
    assert "missing X-Hub-Signature-256" in response.json["error"]["message"]


# --- text messages and batches -------------------------------------------------------------

def test_text_message_is_normalised():
    parsed = one(text_message(JUERGEN, WAMID, "Grüße 👋 Ünïcödé ✓"))
    assert parsed.platform == "whatsapp"
    assert parsed.kind == "message"
    assert parsed.text == "Grüße 👋 Ünïcödé ✓"
    assert parsed.sender_id == parsed.chat_id == JUERGEN
    assert parsed.sender_name == "Jürgen Müller"
    assert parsed.platform_message_id == parsed.dedupe_key == WAMID
    assert parsed.sent_at == 1717171717.0
    assert parsed.thread_id is None
    assert parsed.extra == {"type": "text", "wa_id": JUERGEN,
                            "phone_number_id": "106540352242922",
                            "display_phone_number": "15550783881",
                            "business_account_id": "102290129340398"}


def test_a_batch_from_two_senders_is_gated_message_by_message(wa):
    first = value([text_message(JUERGEN, WAMID, "Ist die Lieferung unterwegs? 📦")],
                  [contact(JUERGEN, "Jürgen Müller")])
    second = value([text_message(AMARA, "wamid.HBgNMjM0ODAzMTIzNDU2NxUCABIYFjNFQjBBQkMA",
                                 "Ẹ kú àárọ̀ 🌞")], [contact(AMARA, "Amara Okafor")])
    body = encode(notification(values=[first, second]))
    response = post(wa, body)
    assert response.status_code == 200
    assert [m["outcome"] for m in response.json["messages"]] == ["routed", "unknown_sender"]
    senders = [m["sender_id"] for m in wa.ledger()[0]["messages"]]
    assert senders == [JUERGEN, AMARA]


def test_several_messages_and_contacts_in_one_change_are_matched_by_wa_id():
    body = encode(notification(
        [text_message(AMARA, "wamid.A1", "first"), text_message(JUERGEN, "wamid.J1", "second"),
         text_message(AMARA, "wamid.A2", "third")],
        [contact(JUERGEN, "Jürgen Müller"), contact(AMARA, "Amara Okafor")]))
    result = parse(body)
    assert [(m.sender_id, m.sender_name, m.text) for m in result.messages] == [
        (AMARA, "Amara Okafor", "first"), (JUERGEN, "Jürgen Müller", "second"),
        (AMARA, "Amara Okafor", "third")]


def test_several_entries_are_all_read():
    body = notification([text_message(JUERGEN, "wamid.E1", "eins")])
    body["entry"].append({"id": "102290129340399", "changes": [
        {"field": "messages", "value": value([text_message(AMARA, "wamid.E2", "zwei")])}]})
    result = parse(encode(body))
    assert [m.dedupe_key for m in result.messages] == ["wamid.E1", "wamid.E2"]
    assert result.messages[1].extra["business_account_id"] == "102290129340399"


def test_a_quoted_reply_points_at_the_message_it_answers():
    question = "wamid.HBgNQUVTSU9OX1FVRVNUSU9OFQIAERgSQkFEMUU1"
    parsed = one(text_message(JUERGEN, WAMID, "Ja, passt!",
                              context={"from": "15550783881", "id": question}))
    assert parsed.reply_to == question
    assert parsed.thread_id is None
    assert parsed.extra["context"] == {"message_id": question, "from": "15550783881"}


def test_a_message_without_context_answers_nothing():
    assert one(text_message(JUERGEN, WAMID, "Neue Frage")).reply_to is None


def test_forwarded_flags_and_ad_referrals_are_kept():
    referral = {"source_url": "https://fb.me/2ZyTcA", "source_id": "120210", "source_type": "ad",
                "headline": "Sommer-Sale ☀️", "body": "Jetzt schreiben", "media_type": "image",
                "ctwa_clid": "ARAkLkA8rmlFeiCktEJQ"}
    parsed = one(text_message(JUERGEN, WAMID, "Ich interessiere mich", referral=referral,
                              context={"forwarded": True}))
    assert parsed.extra["referral"] == referral
    assert parsed.extra["forwarded"] is True
    assert "context" not in parsed.extra
    assert parsed.reply_to is None  # a forwarded message's context has no id


def test_group_messages_are_in_the_group_chat():
    parsed = one(text_message(JUERGEN, WAMID, "Hallo Gruppe", group_id="120363042188354720"))
    assert parsed.sender_id == JUERGEN
    assert parsed.chat_id == "120363042188354720"
    assert parsed.extra["group_id"] == "120363042188354720"


def test_a_user_whose_number_is_withheld_is_known_by_business_scoped_id():
    item = text_message(JUERGEN, WAMID, "Grüße vom Username-Nutzer")
    del item["from"]
    item["from_user_id"] = "DE.1410018717833190"
    user = {"profile": {"name": "Jürgen", "username": "@juergen"}, "user_id": "DE.1410018717833190"}
    parsed = one(item, contacts=[user])
    assert parsed.sender_id == parsed.chat_id == "DE.1410018717833190"
    assert parsed.sender_name == "Jürgen"
    assert parsed.extra["user_id"] == "DE.1410018717833190"
    assert parsed.extra["username"] == "@juergen"
    assert "wa_id" not in parsed.extra


def test_the_same_message_redelivered_is_a_duplicate(wa):
    body = encode(notification([text_message(JUERGEN, WAMID, "einmal")]))
    assert post(wa, body).json["messages"][0]["outcome"] == "routed"
    # Meta retries with the same message id, even in a differently batched notification.
    again = encode(notification([text_message(AMARA, "wamid.other", "x"),
                                 text_message(JUERGEN, WAMID, "einmal")]))
    assert [m["outcome"] for m in post(wa, again).json["messages"]] == ["unknown_sender",
                                                                         "duplicate"]


def test_a_three_megabyte_delivery_passes(wa):
    document = notification([text_message(JUERGEN, WAMID, "Lange Nachricht 📜 " + "ä" * 4000)],
                            [contact(JUERGEN, "Jürgen Müller")])
    body = encode(document)
    document["entry"][0]["changes"][0]["value"]["padding_for_test"] = "x" * (3_000_000 - len(body))
    body = encode(document)
    assert 2_999_000 < len(body) <= 3_000_100
    response = post(wa, body)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]


# --- what is ignored -----------------------------------------------------------------------

def test_a_delivery_of_statuses_only_is_accepted_and_ignored(wa):
    body = encode(notification(statuses=[status(WAMID, JUERGEN, "sent"),
                                         status(WAMID, JUERGEN, "delivered"),
                                         status(WAMID, JUERGEN, "read")]))
    response = post(wa, body)
    assert response.status_code == 200
    assert response.json["messages"] == []
    entry = wa.ledger()[0]
    assert entry["outcome"] == "accepted"
    assert entry["reason"] == "status update"
    assert entry["meta"] == {"statuses": 3}


def test_a_failed_status_is_not_an_error(wa):
    failed = status(WAMID, JUERGEN, "failed")
    failed["errors"] = [{"code": 131047, "title": "Re-engagement message",
                         "message": "Re-engagement message",
                         "error_data": {"details": "Message failed to send because more than 24 "
                                                   "hours have passed since the customer last "
                                                   "replied to this number."}}]
    response = post(wa, encode(notification(statuses=[failed])))
    assert response.status_code == 200
    assert wa.ledger()[0]["reason"] == "status update"


def test_statuses_next_to_a_message_do_not_hide_it(wa):
    body = encode(notification([text_message(JUERGEN, WAMID, "und noch was")],
                               [contact(JUERGEN, "Jürgen Müller")],
                               [status("wamid.sent-by-us", JUERGEN, "read")]))
    response = post(wa, body)
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    assert wa.ledger()[0]["meta"] == {"statuses": 1}


@pytest.mark.parametrize("item,reason", [
    (message(JUERGEN, WAMID, "unsupported", {"type": "poll_update"}),
     "unsupported message type 'unsupported'"),
    (message(JUERGEN, WAMID, "system", {"body": "Jürgen changed their phone number",
                                        "wa_id": "4915199999999",
                                        "type": "user_changed_number"}),
     "unsupported message type 'system'"),
    (message(JUERGEN, WAMID, "order", {"catalog_id": "1234", "text": "Bitte liefern",
                                       "product_items": [{"product_retailer_id": "sku-1",
                                                          "quantity": 2, "item_price": 9.99,
                                                          "currency": "EUR"}]}),
     "unsupported message type 'order'"),
    (message(JUERGEN, WAMID, "contacts", [{"name": {"formatted_name": "Ada Lovelace"}}]),
     "unsupported message type 'contacts'"),
    (message(JUERGEN, WAMID, "interactive", {"type": "call_permission_reply"}),
     "unsupported interactive type 'call_permission_reply'"),
    (message(JUERGEN, WAMID, "reaction", {"message_id": "wamid.ours", "emoji": "👍"}),
     "reaction (route_reactions is off)"),
])
def test_types_not_routed_are_skipped_with_a_reason(wa, item, reason):
    response = post(wa, encode(notification([item], [contact(JUERGEN, "Jürgen Müller")])))
    assert response.status_code == 200
    assert response.json["messages"] == []
    entry = wa.ledger()[0]
    assert entry["reason"] == reason
    assert entry["meta"] == {"skipped": [{"id": WAMID, "reason": reason}]}


def test_a_skipped_message_does_not_hold_back_the_others(wa):
    body = encode(notification([message(JUERGEN, "wamid.sys", "system", {"body": "x"}),
                                text_message(JUERGEN, WAMID, "echte Nachricht")]))
    response = post(wa, body)
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    assert wa.ledger()[0]["meta"]["skipped"] == [
        {"id": "wamid.sys", "reason": "unsupported message type 'system'"}]


def test_changes_of_other_fields_are_ignored(wa):
    body = encode({"object": "whatsapp_business_account", "entry": [{
        "id": "102290129340398", "time": 1717171717, "changes": [{
            "field": "account_update",
            "value": {"phone_number": "15550783881", "event": "VERIFIED_ACCOUNT"}}]}]})
    response = post(wa, body)
    assert response.status_code == 200
    assert wa.ledger()[0]["reason"] == "not a messages change (field 'account_update')"


def test_error_notifications_are_recorded_with_their_codes(wa):
    errors = [{"code": 131000, "title": "Something went wrong", "message": "Something went wrong",
               "error_data": {"details": "Unbekannter Fehler – bitte später erneut versuchen"}}]
    response = post(wa, encode(notification(values=[{**value(), "errors": errors}])))
    assert response.status_code == 200
    entry = wa.ledger()[0]
    assert entry["reason"] == "error notification: (#131000) Something went wrong"
    assert entry["meta"] == {"error_codes": [131000], "errors": [{
        "code": 131000, "title": "Something went wrong",
        "details": "Unbekannter Fehler – bitte später erneut versuchen"}]}


def reconnect_notice(**fields):
    """What Meta sends when WhatsApp Web reconnects: an ``interactive`` item without its
    ``interactive`` object, beside the change's errors (quoted in webitel/chat_manager's
    bot/facebook/whatsapp.go)."""
    item = {"from": JUERGEN, "id": WAMID, "timestamp": "1685927475", "type": "interactive"}
    errors = [{"code": 131000, "title": "Something went wrong", "message": "Something went wrong",
               "error_data": {"details": "Unsupported webhook payload"}}]
    return {**value([item], [contact(JUERGEN, "Jürgen Müller")]), "errors": errors, **fields}


def test_whatsapp_webs_reconnect_notice_is_acknowledged_and_recorded(wa):
    response = post(wa, encode(notification(values=[reconnect_notice()])))
    assert response.status_code == 200
    assert response.json["messages"] == []
    entry = wa.ledger()[0]
    assert entry["outcome"] != "malformed"
    assert entry["reason"] == "error notification: (#131000) Something went wrong"
    assert entry["meta"] == {
        "skipped": [{"id": WAMID, "reason": "error notice"}],
        "error_codes": [131000],
        "errors": [{"code": 131000, "title": "Something went wrong",
                    "details": "Unsupported webhook payload"}]}


def test_an_item_carrying_its_own_errors_is_an_error_notice_not_malformed(wa):
    item = {"from": JUERGEN, "id": WAMID, "timestamp": "1685927475", "type": "interactive",
            "errors": [{"code": 131000, "title": "Unsupported webhook payload"}]}
    response = post(wa, encode(notification([item])))
    assert response.status_code == 200
    entry = wa.ledger()[0]
    assert entry["reason"] == "error notification: (#131000) Unsupported webhook payload"
    assert entry["meta"]["errors"] == [{"code": 131000, "title": "Unsupported webhook payload",
                                        "message_id": WAMID}]
    assert entry["meta"]["skipped"] == [{"id": WAMID, "reason": "error notice"}]


def test_an_unsupported_message_is_recorded_with_its_error(wa):
    item = message(JUERGEN, WAMID, "unsupported", {"type": "poll_creation"}, errors=[{
        "code": 131051, "title": "Message type unknown", "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."}}])
    response = post(wa, encode(notification([item], [contact(JUERGEN, "Jürgen Müller")])))
    assert (response.status_code, response.json["messages"]) == (200, [])
    entry = wa.ledger()[0]
    assert entry["reason"] == "error notification: (#131051) Message type unknown"
    assert entry["meta"]["error_codes"] == [131051]
    assert entry["meta"]["errors"][0]["details"] == "Message type is currently not supported."


def test_an_error_notice_does_not_hold_back_the_other_messages(wa):
    body = encode(notification([
        {"from": JUERGEN, "id": "wamid.err", "type": "interactive",
         "errors": [{"code": 131000}]},
        text_message(JUERGEN, WAMID, "echte Nachricht")]))
    response = post(wa, body)
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    assert wa.ledger()[0]["meta"]["error_codes"] == [131000]


def test_a_message_without_content_and_without_errors_is_still_malformed(wa):
    item = {"from": JUERGEN, "id": WAMID, "timestamp": "1685927475", "type": "interactive"}
    response = post(wa, encode(notification([item])))
    assert response.status_code == 400
    assert "messages[0].interactive must be an object" in response.json["error"]["message"]


# --- interactive replies, buttons, reactions -----------------------------------------------

def button_reply(button_id="approve-deploy-42", title="Freigeben ✅"):
    return message(JUERGEN, WAMID, "interactive",
                   {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
                   context={"from": "15550783881", "id": "wamid.HBgNQUVTSU9OX1FVRVNUSU9O"})


def test_button_reply_answers_a_waitbox(wa):
    waitbox_id = wa.open_waitbox(wa.app_id, wa.contact_id, reference="deploy-approval")
    response = post(wa, encode(notification([button_reply()], [contact(JUERGEN, "Jürgen")])))
    assert response.json["messages"] == [{"outcome": "routed", "handler": "waitbox"}]
    waitbox = wa.waitbox(waitbox_id)
    assert waitbox["status"] == "answered"
    answer = waitbox["message"]
    assert answer["kind"] == "action"
    assert answer["action_id"] == "approve-deploy-42"
    assert answer["action_value"] == "Freigeben ✅"
    assert answer["text"] == "Freigeben ✅"
    assert answer["platform_message_id"] == WAMID


def test_list_reply_is_an_action_with_its_description():
    parsed = one(message(JUERGEN, WAMID, "interactive", {"type": "list_reply", "list_reply": {
        "id": "slot-2026-07-01T09", "title": "Mi, 09:00 Uhr",
        "description": "Termin in der Filiale Köln-Ehrenfeld"}}))
    assert (parsed.kind, parsed.action_id, parsed.action_value, parsed.text) == (
        "action", "slot-2026-07-01T09", "Mi, 09:00 Uhr", "Mi, 09:00 Uhr")
    assert parsed.extra["description"] == "Termin in der Filiale Köln-Ehrenfeld"


def test_legacy_template_button_is_an_action():
    parsed = one(message(JUERGEN, WAMID, "button", {"payload": "STOP_PROMOTIONS",
                                                     "text": "Keine Werbung mehr 🙅"},
                         context={"from": "15550783881", "id": "wamid.template"}))
    assert (parsed.kind, parsed.action_id, parsed.action_value, parsed.text) == (
        "action", "STOP_PROMOTIONS", "Keine Werbung mehr 🙅", "Keine Werbung mehr 🙅")
    assert parsed.extra["context"]["message_id"] == "wamid.template"


def test_completed_flow_is_an_action_carrying_its_response():
    response_json = json.dumps({"flow_token": "ft-1", "rating": "5", "comment": "Sehr gut 👍"},
                               ensure_ascii=False)
    parsed = one(message(JUERGEN, WAMID, "interactive", {"type": "nfm_reply", "nfm_reply": {
        "name": "flow", "body": "Sent", "response_json": response_json}}))
    assert (parsed.kind, parsed.action_id, parsed.action_value, parsed.text) == (
        "action", "flow", response_json, "Sent")


def test_reactions_are_routed_when_the_app_asks_for_them(wa, make_app):
    reaction = message(JUERGEN, WAMID, "reaction", {"message_id": "wamid.sent-by-us",
                                                    "emoji": "\u2764\ufe0f"})
    parsed = one(reaction, config={"route_reactions": True})
    assert (parsed.kind, parsed.text) == ("message", "\u2764\ufe0f")
    assert parsed.extra["reaction"] == "\u2764\ufe0f"
    assert parsed.extra["reacted_message_id"] == "wamid.sent-by-us"

    app_id = wa.add_app("whatsapp", CREDENTIALS, {"route_reactions": True}, name="Reactions")
    wa.add_contact({app_id: JUERGEN})
    body = encode(notification([reaction]))
    response = wa.deliver(app_id, body, meta_headers(APP_SECRET, body))
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]


def test_a_removed_reaction_is_always_ignored():
    removed = message(JUERGEN, WAMID, "reaction", {"message_id": "wamid.sent-by-us"})
    result = parse(encode(notification([removed])), config={"route_reactions": True})
    assert result.messages == []
    assert result.reason == "reaction removed"


# --- media and location --------------------------------------------------------------------

@pytest.mark.parametrize("message_type,content,kind,caption,name", [
    ("image", {"caption": "Schaden am Paket 📦", "mime_type": "image/jpeg", "sha256": SHA,
               "id": MEDIA_ID}, "image", "Schaden am Paket 📦", None),
    ("video", {"caption": "So sieht's aus", "mime_type": "video/mp4", "sha256": SHA,
               "id": MEDIA_ID}, "video", "So sieht's aus", None),
    ("audio", {"mime_type": "audio/mpeg", "sha256": SHA, "id": MEDIA_ID, "voice": False},
     "audio", "", None),
    ("audio", {"mime_type": "audio/ogg; codecs=opus", "sha256": SHA, "id": MEDIA_ID,
               "voice": True}, "voice", "", None),
    ("voice", {"mime_type": "audio/ogg; codecs=opus", "sha256": SHA, "id": MEDIA_ID},
     "voice", "", None),
    ("document", {"caption": "Rechnung März", "filename": "Rechnung_März_2026.pdf",
                  "mime_type": "application/pdf", "sha256": SHA, "id": MEDIA_ID},
     "document", "Rechnung März", "Rechnung_März_2026.pdf"),
    ("sticker", {"mime_type": "image/webp", "sha256": SHA, "id": MEDIA_ID, "animated": True},
     "sticker", "", None),
])
def test_media_messages_become_attachments(message_type, content, kind, caption, name):
    parsed = one(message(JUERGEN, WAMID, message_type, content))
    assert parsed.kind == "message"
    assert parsed.text == caption
    [attachment] = parsed.attachments
    assert attachment.kind == kind
    assert attachment.file_id == MEDIA_ID
    assert attachment.mime_type == content["mime_type"]
    assert attachment.name == name
    assert parsed.extra["media_sha256"] == SHA
    assert parsed.extra["type"] == message_type


def test_a_voice_note_is_routed(wa):
    voice = message(JUERGEN, WAMID, "audio", {"mime_type": "audio/ogg; codecs=opus",
                                              "sha256": SHA, "id": MEDIA_ID, "voice": True})
    response = post(wa, encode(notification([voice], [contact(JUERGEN, "Jürgen Müller")])))
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]


def test_location_is_a_geo_uri_attachment_with_the_place_in_extra():
    parsed = one(message(JUERGEN, WAMID, "location", {
        "latitude": 50.9413, "longitude": 6.9583, "name": "Kölner Dom",
        "address": "Domkloster 4, 50667 Köln", "url": "https://www.koelner-dom.de"}))
    assert parsed.text == "Kölner Dom\nDomkloster 4, 50667 Köln"
    [attachment] = parsed.attachments
    assert (attachment.kind, attachment.url) == ("location", "geo:50.9413,6.9583")
    assert parsed.extra["location"] == {"latitude": 50.9413, "longitude": 6.9583,
                                        "name": "Kölner Dom",
                                        "address": "Domkloster 4, 50667 Köln",
                                        "url": "https://www.koelner-dom.de"}


def test_a_bare_pin_has_no_text():
    parsed = one(message(JUERGEN, WAMID, "location", {"latitude": -33.8688, "longitude": 151}))
    assert parsed.text == ""
    assert parsed.attachments[0].url == "geo:-33.8688,151"
    assert parsed.extra["location"] == {"latitude": -33.8688, "longitude": 151.0}


# --- edits -------------------------------------------------------------------------------

ORIGINAL = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFE9SSUdJTkFMX01FU1NBR0UA"
EDIT_ID = "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYEEVESVRfT0ZfVEhFX01TRwA="


def test_an_edited_text_is_an_edit_of_the_original_message():
    parsed = one(edit_message(JUERGEN, EDIT_ID, ORIGINAL, "text",
                              {"body": "Lieferung bitte Dienstag, nicht Montag"}))
    assert parsed.kind == "edit"
    assert parsed.platform_message_id == ORIGINAL
    assert parsed.dedupe_key == EDIT_ID
    assert parsed.text == "Lieferung bitte Dienstag, nicht Montag"
    assert parsed.sender_id == parsed.chat_id == JUERGEN
    assert parsed.reply_to is None
    assert parsed.extra["type"] == "edit"
    assert parsed.extra["edited_type"] == "text"
    assert parsed.extra["edit_message_id"] == EDIT_ID


def test_an_edited_caption_keeps_its_media_and_reply_context():
    question = "wamid.HBgNQUVTSU9OX1FVRVNUSU9O"
    parsed = one(edit_message(JUERGEN, EDIT_ID, ORIGINAL, "image", {
        "caption": "Das Paket – jetzt richtig fotografiert", "mime_type": "image/jpeg",
        "sha256": SHA, "id": MEDIA_ID}, context={"id": question}))
    assert (parsed.kind, parsed.platform_message_id) == ("edit", ORIGINAL)
    assert parsed.text == "Das Paket – jetzt richtig fotografiert"
    assert [(a.kind, a.file_id) for a in parsed.attachments] == [("image", MEDIA_ID)]
    assert parsed.reply_to == question
    assert parsed.extra["context"] == {"message_id": question}


def test_an_edit_is_routed_and_each_edit_is_its_own_delivery(wa):
    first = encode(notification([text_message(JUERGEN, ORIGINAL, "Montag")]))
    edit = encode(notification([edit_message(JUERGEN, EDIT_ID, ORIGINAL, "text",
                                             {"body": "Dienstag"})]))
    assert post(wa, first).json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    assert post(wa, edit).json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    assert post(wa, edit).json["messages"][0]["outcome"] == "duplicate"
    routed = wa.ledger()[1]["messages"][0]
    assert (routed["kind"], routed["dedupe_key"]) == ("edit", EDIT_ID)


def test_an_edit_of_a_type_that_cannot_be_edited_is_skipped(wa):
    item = edit_message(JUERGEN, EDIT_ID, ORIGINAL, "location", {"latitude": 1, "longitude": 2})
    response = post(wa, encode(notification([item])))
    assert (response.status_code, response.json["messages"]) == (200, [])
    assert wa.ledger()[0]["reason"] == "unsupported edited message type 'location'"


def test_a_button_reply_points_at_the_message_that_carried_the_button():
    assert one(button_reply()).reply_to == "wamid.HBgNQUVTSU9OX1FVRVNUSU9O"


# --- malformed bodies ----------------------------------------------------------------------

def with_item(**changes):
    item = text_message(JUERGEN, WAMID, "hallo")
    item.update(changes)
    return encode(notification([{k: v for k, v in item.items() if v is not None}]))


def with_value(**changes):
    value_ = value([text_message(JUERGEN, WAMID, "hallo")])
    value_.update(changes)
    return encode(notification(values=[value_]))


MALFORMED = [
    (b"not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    (b'{"object": "whatsapp_business_account", "entry": [], "n": ' + b"9" * 5000 + b"}",
     "not valid JSON"),
    (b"[1, 2]", "must be a JSON object"),
    (b'"whatsapp"', "must be a JSON object"),
    (encode({"object": "page", "entry": []}), "object must be 'whatsapp_business_account'"),
    (encode({"entry": []}), "object must be"),
    (encode({"object": "whatsapp_business_account"}), "entry must be a list"),
    (encode({"object": "whatsapp_business_account", "entry": {"id": "1"}}), "entry must be a list"),
    (encode({"object": "whatsapp_business_account", "entry": ["x"]}), "entry[0] must be an object"),
    (encode({"object": "whatsapp_business_account", "entry": [{"id": "1"}]}),
     "entry[0].changes must be a list"),
    (encode({"object": "whatsapp_business_account", "entry": [{"changes": [7]}]}),
     "entry[0].changes[0] must be an object"),
    (encode({"object": "whatsapp_business_account",
             "entry": [{"changes": [{"field": "messages", "value": "text"}]}]}),
     "entry[0].changes[0].value must be an object"),
    (encode({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "x"}]}]}),
     "entry[0].changes[0].value must be an object"),
    (with_value(messages={"from": JUERGEN}), "value.messages must be a list"),
    (with_value(statuses="read"), "value.statuses must be a list"),
    (with_value(contacts={"wa_id": JUERGEN}), "value.contacts must be a list"),
    (with_value(contacts=[{"wa_id": JUERGEN, "profile": {"name": 42}}]),
     "contacts[0].profile.name must be a string"),
    (with_value(metadata=[]), "value.metadata must be an object"),
    (with_value(messages=["wamid.1"]), "messages[0] must be an object"),
    (with_item(**{"from": None}), "messages[0] has no from"),
    (with_item(**{"from": ""}), "messages[0] has no from"),
    (with_item(**{"from": 4915112345678}), "messages[0].from must be a string"),
    (with_item(**{"from": "4" * 513}), "messages[0].from is longer than 512"),
    (with_item(id=None), "messages[0].id must be a non-empty string"),
    (with_item(id=""), "messages[0].id must be a non-empty string"),
    (with_item(id={"wamid": 1}), "messages[0].id must be a non-empty string"),
    (with_item(id="w" * 513), "messages[0].id is longer than 512"),
    (with_item(timestamp="yesterday"), "messages[0].timestamp must be Unix seconds"),
    (with_item(timestamp="-1"), "messages[0].timestamp must be Unix seconds"),
    (with_item(timestamp=True), "messages[0].timestamp must be Unix seconds"),
    (with_item(type=None), "messages[0].type must be a non-empty string"),
    (with_item(type=["text"]), "messages[0].type must be a non-empty string"),
    (with_item(text=None), "messages[0].text must be an object"),
    (with_item(text="hallo"), "messages[0].text must be an object"),
    (with_item(text={"body": 42}), "messages[0].text.body must be a non-empty string"),
    (with_item(context="wamid.x"), "messages[0].context must be an object"),
    (with_item(group_id=12), "messages[0].group_id must be a string"),
    (encode(notification([message(JUERGEN, WAMID, "interactive", {"type": "button_reply"})])),
     "interactive.button_reply must be an object"),
    (encode(notification([message(JUERGEN, WAMID, "interactive", {
        "type": "list_reply", "list_reply": {"title": "ohne id"}})])),
     "interactive.list_reply.id must be a non-empty string"),
    (encode(notification([message(JUERGEN, WAMID, "button", {})])),
     "button has neither payload nor text"),
    (encode(notification([message(JUERGEN, WAMID, "image", {"mime_type": "image/jpeg"})])),
     "image has no media id"),
    (encode(notification([message(JUERGEN, WAMID, "document", {"id": MEDIA_ID, "filename": 3})])),
     "document.filename must be a string"),
    (encode(notification([message(JUERGEN, WAMID, "location", {"latitude": "50.9",
                                                               "longitude": 6.9})])),
     "location.latitude must be a number"),
    (encode(notification([message(JUERGEN, WAMID, "location", {"latitude": 50.9})])),
     "location.longitude must be a number"),
    (encode(notification([message(JUERGEN, WAMID, "reaction", {"emoji": "👍"})])),
     "reaction.message_id must be a non-empty string"),
    (encode(notification([message(JUERGEN, WAMID, "edit", {"message": {
        "type": "text", "text": {"body": "x"}}})])),
     "edit.original_message_id must be a non-empty string"),
    (encode(notification([message(JUERGEN, WAMID, "edit", {"original_message_id": ORIGINAL})])),
     "edit.message must be an object"),
    (encode(notification([edit_message(JUERGEN, WAMID, ORIGINAL, "text", {"body": ""})])),
     "edit.message.text.body must be a non-empty string"),
    (with_item(context={"id": 7}), "messages[0].context.id must be a string"),
    (with_item(errors={"code": 131000}), "messages[0].errors must be a list"),
    (with_value(errors=["boom"]), "value.errors[0] must be an object"),
]


@pytest.mark.parametrize("body,error", MALFORMED)
def test_malformed_bodies_are_400_with_a_clear_reason(wa, body, error):
    response = post(wa, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert error in response.json["error"]["message"]
    assert wa.ledger()[0]["outcome"] == "malformed"


def test_the_adapter_raises_only_malformed_delivery_for_bad_bodies():
    for body, _ in MALFORMED:
        with pytest.raises(MalformedDelivery):
            parse(body)
