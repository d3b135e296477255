"""The Telegram adapter in a real gunicorn server, set up with the orqo command line."""
import json

import requests

SECRET = "prod_Telegram-secret_42"
API = "https://api.telegram.org"  # the default api_base_url
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def telegram_update(update_id: int, text: str) -> bytes:
    user = {"id": 987654321, "is_bot": False, "first_name": "Jürgen", "last_name": "Ødegaard",
            "username": "juergen_o", "language_code": "de"}
    return json.dumps({"update_id": update_id, "message": {
        "message_id": 52, "from": user,
        "chat": {"id": 987654321, "first_name": "Jürgen", "last_name": "Ødegaard",
                 "username": "juergen_o", "type": "private"},
        "date": 1717171717, "text": text,
    }}, ensure_ascii=False).encode()


def post(server, path, body, secret=None):
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[HEADER] = secret
    return requests.post(server.url + path, data=body, headers=headers, timeout=10)


def test_telegram_on_a_real_server(make_server):
    server = make_server()
    app = server.cli_json("apps", "create", "--name", "Support bot", "--adapter", "telegram",
                          "--credential", f"TELEGRAM_WEBHOOK_SECRET={SECRET}",
                          "--credential", "TELEGRAM_BOT_TOKEN=123456:ABC-DEF1234ghIkl-zyx57W2v1u")
    server.cli_json("contacts", "create", "--name", "Jürgen", "--channel",
                    f"{app['id']}=987654321")

    routed = post(server, app["webhook_path"], telegram_update(700001, "Moin! 👋"), SECRET)
    assert routed.status_code == 200
    assert routed.json()["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    again = post(server, app["webhook_path"], telegram_update(700001, "Moin! 👋"), SECRET)
    assert again.json()["messages"] == [{"outcome": "duplicate", "handler": None}]
    forged = post(server, app["webhook_path"], telegram_update(700002, "Überweise 1000 €"),
                  "guessed_secret")
    assert forged.status_code == 401
    unsigned = post(server, app["webhook_path"], telegram_update(700003, "hallo"))
    assert unsigned.status_code == 401

    refused = server.cli("apps", "create", "--name", "No secret", "--adapter", "telegram",
                         check=False)
    assert refused.returncode == 1
    assert "TELEGRAM_WEBHOOK_SECRET" in refused.stderr
    dev = server.cli_json("apps", "create", "--name", "Dev bot", "--adapter", "telegram",
                          "--config", "allow_unsigned=true")
    server.cli_json("contacts", "create", "--name", "Jürgen (dev)", "--channel",
                    f"{dev['id']}=987654321")
    accepted = post(server, dev["webhook_path"], telegram_update(1, "ohne Geheimnis"))
    assert accepted.json()["messages"][0]["outcome"] == "routed"

    listed = {entry["name"]: entry for entry in server.cli_json("apps", "list", "--json")}
    assert set(listed) == {"Support bot", "Dev bot"}
    assert listed["Dev bot"]["config"] == {"allow_unsigned": True, "api_base_url": API}
    assert listed["Support bot"]["config"] == {"allow_unsigned": False, "api_base_url": API}
    events = server.cli_json("deliveries", "list", "--json", "--limit", "100")
    assert [e["outcome"] for e in events] == ["accepted", "rejected_signature",
                                              "rejected_signature", "accepted", "accepted"]
    assert SECRET not in server.log()
