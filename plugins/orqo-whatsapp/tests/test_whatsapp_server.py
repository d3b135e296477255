"""The WhatsApp adapter in a real gunicorn server, set up with the orqo command line."""
import pytest
import requests
from orqo_whatsapp import sign
from orqo_whatsapp.testing import contact
from orqo_whatsapp.testing import encode
from orqo_whatsapp.testing import encode_escaped
from orqo_whatsapp.testing import notification
from orqo_whatsapp.testing import status
from orqo_whatsapp.testing import text_message

APP_SECRET = "9b1e6a7c2d4f4e8a9c0b1d2e3f405162"
VERIFY_TOKEN = "orqo-verify-2f9c81"
WA_ID = "4915112345678"


def post(server, path, body, signature):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return requests.post(server.url + path, data=body, headers=headers, timeout=30)


def test_whatsapp_on_a_real_server(make_server):
    server = make_server()
    app = server.cli_json("apps", "create", "--name", "WhatsApp support", "--adapter", "whatsapp",
                          "--credential", f"WHATSAPP_APP_SECRET={APP_SECRET}",
                          "--credential", f"WHATSAPP_VERIFY_TOKEN={VERIFY_TOKEN}",
                          "--credential", "WHATSAPP_ACCESS_TOKEN=EAAJB0realServerToken",
                          "--credential", "WHATSAPP_PHONE_NUMBER_ID=106540352242922",
                          "--config", "route_reactions=false")
    server.cli_json("contacts", "create", "--name", "Jürgen", "--channel", f"{app['id']}={WA_ID}")
    url = server.url + app["webhook_path"]

    handshake = requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                          "hub.challenge": "1158201444"}, timeout=10)
    assert handshake.status_code == 200
    assert handshake.text == "1158201444"
    assert handshake.headers["Content-Type"].startswith("text/plain")
    wrong = requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "guessed",
                                      "hub.challenge": "1158201444"}, timeout=10)
    assert wrong.status_code == 403
    assert "1158201444" not in wrong.text

    body = encode_escaped(notification(
        [text_message(WA_ID, "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFDNBRkQ5", "Moin @orqo! 👋")],
        [contact(WA_ID, "Jürgen Müller")]))
    routed = post(server, app["webhook_path"], body, sign(APP_SECRET, body))
    assert routed.status_code == 200
    assert routed.json()["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    again = post(server, app["webhook_path"], body, sign(APP_SECRET, body))
    assert again.json()["messages"] == [{"outcome": "duplicate", "handler": None}]

    forged = encode(notification([text_message(WA_ID, "wamid.forged", "Überweise 1000 €")]))
    assert post(server, app["webhook_path"], forged, "sha256=" + "0" * 64).status_code == 401
    assert post(server, app["webhook_path"], forged, None).status_code == 401

    statuses = encode(notification(statuses=[status("wamid.ours", WA_ID, "read")]))
    ignored = post(server, app["webhook_path"], statuses, sign(APP_SECRET, statuses))
    assert ignored.status_code == 200
    assert ignored.json()["messages"] == []

    document = notification([text_message(WA_ID, "wamid.big", "Große Nachricht 📜")])
    document["entry"][0]["changes"][0]["value"]["padding_for_test"] = "ü" * 1_499_000
    big = encode(document)
    assert len(big) > 2_990_000
    assert post(server, app["webhook_path"], big, sign(APP_SECRET, big)).status_code == 200

    events = server.cli_json("deliveries", "list", "--json", "--limit", "100")
    assert [e["outcome"] for e in events] == [
        "accepted", "accepted", "rejected_signature", "rejected_signature", "accepted",
        "accepted", "rejected_signature", "challenge"]
    assert events[2]["reason"] == "missing X-Hub-Signature-256 header"
    assert events[6]["status_code"] == 403
    assert APP_SECRET not in server.log()


def test_the_verify_token_is_not_in_the_access_log(make_server):
    server = make_server(workers=1)
    app = server.cli_json("apps", "create", "--name", "WhatsApp", "--adapter", "whatsapp",
                          "--credential", f"WHATSAPP_APP_SECRET={APP_SECRET}",
                          "--credential", f"WHATSAPP_VERIFY_TOKEN={VERIFY_TOKEN}")
    handshake = requests.get(server.url + app["webhook_path"], timeout=10, params={
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"})
    assert handshake.status_code == 200
    assert VERIFY_TOKEN not in server.log()
