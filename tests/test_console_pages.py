"""The console's Contact, conversation, waitbox and outbound pages through Flask's test
client, and the API and CLI filters and retry they share (issue 17)."""
import json
import re

import pytest
import requests_mock

from orqo import deadlines
from orqo.extensions import db
from orqo.services import sending
from orqo.services.outbound import queue_message
from orqo.services.tokens import issue_token
from tests.plugins.fake_adapter import delivery
from tests.test_console import csrf_of
from tests.test_console import signed_in  # noqa: F401  (fixture)

SEND_URL = "http://127.0.0.1:9/send"


def text_of(response) -> str:
    return response.get_data(as_text=True)


def receive(fake, message_id, text="hi", sender="ada"):
    body = delivery({"sender": sender, "id": message_id, "text": text})
    assert fake.deliver(fake.app_id, body, fake.headers).status_code == 200
    return fake.ledger()[0]["messages"][0]["id"]


def send_one(fake, text, answer, **kwargs):
    """Queue ``text`` to Ada and let the worker send it, the platform answering ``answer``
    (requests-mock keyword arguments); the message's id."""
    with fake.app.app_context():
        message_id = queue_message(fake.app_id, fake.ada, text, **kwargs).id
        db.session.commit()
    with requests_mock.Mocker() as platform, fake.app.app_context(), \
            deadlines.make_session() as session:
        platform.post(SEND_URL, **answer)
        sending.process_due(session)
    return message_id


def failed_send(fake, text="Which day suits you?", **kwargs):
    return send_one(fake, text, {"status_code": 403,
                                 "json": {"error": "bot was blocked by the user"}}, **kwargs)


def admin_auth(app, scopes=("admin",)):
    with app.app_context():
        return {"Authorization": f"Bearer {issue_token('t', list(scopes))[1]}"}


@pytest.mark.parametrize("path", ["/console/contacts/1", "/console/contacts/1/conversation",
                                  "/console/waitboxes", "/console/outbound"])
def test_no_new_page_without_a_session(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/sign-in")


def test_the_nav_links_the_new_pages(signed_in):
    page = text_of(signed_in.get("/console/contacts"))
    assert 'href="/console/waitboxes">Waitboxes' in page
    assert 'href="/console/outbound">Outbound' in page


def test_contacts_search_by_name_or_sender_id(signed_in, fake):
    fake.add_contact({fake.app_id: "u-4711"}, name="Grace Hopper")
    by_name = text_of(signed_in.get("/console/contacts?search=hopp"))
    assert "Grace Hopper" in by_name and "Ada Lovelace" not in by_name
    assert 'value="hopp"' in by_name
    by_sender = text_of(signed_in.get("/console/contacts?search=4711"))
    assert "Grace Hopper" in by_sender and "Ada Lovelace" not in by_sender
    nothing = text_of(signed_in.get("/console/contacts?search=%25"))  # a literal %, not LIKE's
    assert "No Contact matches" in nothing and "Grace Hopper" not in nothing
    both = text_of(signed_in.get(f"/console/contacts?search=a&app_id={fake.app_id}"))
    assert "Grace Hopper" in both and "Ada Lovelace" in both


def test_contact_page_renames_and_edits_adds_and_removes_channels(app, signed_in, fake):
    other = fake.add_app("fake", {"token": "t2"}, name="Second")
    fake.add_contact({fake.app_id: "grace"}, name="Grace")
    url = f"/console/contacts/{fake.ada}"
    page = signed_in.get(url)
    assert page.status_code == 200 and 'value="ada"' in text_of(page)
    token = csrf_of(page)
    renamed = signed_in.post(url, data={"csrf_token": token, "action": "rename",
                                        "name": "Ada King"}, follow_redirects=True)
    assert "Name saved." in text_of(renamed) and "Contact Ada King" in text_of(renamed)
    added = signed_in.post(url, data={"csrf_token": token, "action": "channels",
                                      "app_id-0": fake.app_id, "sender_id-0": "ada2",
                                      "app_id-new": other, "sender_id-new": "ada-b"},
                           follow_redirects=True)
    assert "Channels saved." in text_of(added)
    assert 'value="ada2"' in text_of(added) and 'value="ada-b"' in text_of(added)
    taken = signed_in.post(url, data={"csrf_token": token, "action": "channels",
                                      "app_id-0": fake.app_id, "sender_id-0": "grace"})
    assert taken.status_code == 409
    assert "already belongs to another Contact" in text_of(taken)
    assert 'value="grace"' in text_of(taken)  # the form keeps what was typed
    twice = signed_in.post(url, data={"csrf_token": token, "action": "channels",
                                      "app_id-0": fake.app_id, "sender_id-0": "x",
                                      "app_id-new": fake.app_id, "sender_id-new": "y"})
    assert twice.status_code == 422 and "named twice" in text_of(twice)
    empty = signed_in.post(url, data={"csrf_token": token, "action": "channels",
                                      "app_id-0": fake.app_id, "sender_id-0": ""})
    assert empty.status_code == 422 and "1 to 512 characters" in text_of(empty)
    unnamed = signed_in.post(url, data={"csrf_token": token, "action": "rename", "name": " "})
    assert unnamed.status_code == 422
    removed = signed_in.post(url, data={"csrf_token": token, "action": "channels",
                                        "app_id-0": fake.app_id, "sender_id-0": "ada2",
                                        "remove-0": "1", "app_id-1": other,
                                        "sender_id-1": "ada-b"}, follow_redirects=True)
    assert 'value="ada2"' not in text_of(removed) and 'value="ada-b"' in text_of(removed)
    assert signed_in.post(url, data={"csrf_token": token}).status_code == 400
    assert signed_in.get("/console/contacts/999999").status_code == 404


def test_contact_forms_need_the_csrf_token(signed_in, fake):
    refused = signed_in.post(f"/console/contacts/{fake.ada}",
                             data={"action": "rename", "name": "Mallory"})
    assert refused.status_code == 400 and "CSRF" in text_of(refused)
    assert "Ada Lovelace" in text_of(signed_in.get(f"/console/contacts/{fake.ada}"))


def test_waitboxes_filtered_and_cancelled(signed_in, fake):
    first = fake.open_waitbox(fake.app_id, fake.ada, reference="first")
    second = fake.open_waitbox(fake.app_id, fake.ada, reference="second")
    page = signed_in.get(f"/console/waitboxes?contact_id={fake.ada}&status=waiting")
    rows = re.findall(r'<tr class="waitbox" data-id="(\d+)">', text_of(page))
    assert rows == [str(second), str(first)]  # newest first
    assert "Ada Lovelace" in text_of(page) and "Cancel" in text_of(page)
    back = f"/console/waitboxes?app_id={fake.app_id}"
    cancelled = signed_in.post(f"/console/waitboxes/{first}/cancel",
                               data={"csrf_token": csrf_of(page), "back": back})
    assert cancelled.status_code == 302 and cancelled.headers["Location"] == back
    assert fake.waitbox(first)["status"] == "cancelled"
    listed = text_of(signed_in.get("/console/waitboxes?status=cancelled"))
    assert f'data-id="{first}"' in listed and f'data-id="{second}"' not in listed
    again = signed_in.post(f"/console/waitboxes/{first}/cancel",
                           data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409 and "not waiting" in text_of(again)
    without = signed_in.post(f"/console/waitboxes/{second}/cancel", data={})
    assert without.status_code == 400 and fake.waitbox(second)["status"] == "waiting"
    offsite = signed_in.post(f"/console/waitboxes/{second}/cancel",
                             data={"csrf_token": csrf_of(page), "back": "//evil.example/"})
    assert offsite.headers["Location"] == "/console/waitboxes"
    bad = signed_in.get("/console/waitboxes?status=nope&contact_id=x")
    assert bad.status_code == 422 and "Not one of" in text_of(bad)


def test_conversation_in_both_directions_with_escaped_text(signed_in, fake):
    inbound = receive(fake, "m1", text="<b>Tuesday?</b>")
    outbound = send_one(fake, "Tuesday <i>works</i>", {"json": {"ok": True, "id": "out-1"}},
                        in_reply_to=inbound)
    contact = text_of(signed_in.get(f"/console/contacts/{fake.ada}"))
    assert f"/console/contacts/{fake.ada}/conversation" in contact
    page = signed_in.get(f"/console/contacts/{fake.ada}/conversation")
    html = text_of(page)
    entries = re.findall(r'<li class="entry (\w+)" data-id="(\d+)">', html)
    assert entries == [("inbound", str(inbound)), ("outbound", str(outbound))]  # oldest first
    assert "&lt;b&gt;Tuesday?&lt;/b&gt;" in html and "<b>Tuesday" not in html
    assert "Tuesday &lt;i&gt;works&lt;/i&gt;" in html
    assert f'href="/console/messages/{outbound}"' in html
    assert signed_in.get(f"/console/contacts/{fake.ada}/conversation?conversation_id=999"
                         ).status_code == 404
    assert signed_in.get(f"/console/contacts/{fake.ada}/conversation?conversation_id=x"
                         ).status_code == 422
    nobody = fake.add_contact({}, name="Nobody")
    assert "No conversation yet" in text_of(
        signed_in.get(f"/console/contacts/{nobody}/conversation"))


def test_outbound_list_and_retry_of_a_failed_send(signed_in, fake):
    failed = failed_send(fake, text="<script>x</script>")
    sent = send_one(fake, "fine", {"json": {"ok": True, "id": "out-9"}})
    page = signed_in.get("/console/outbound")
    html = text_of(page)
    assert re.findall(r'<tr class="outbound" data-id="(\d+)">', html) == [str(sent), str(failed)]
    assert "bot was blocked by the user" in html and "out-9" in html
    assert "&lt;script&gt;" in html and "<script>x" not in html
    failed_only = text_of(signed_in.get("/console/outbound?status=failed"))
    assert f'data-id="{failed}"' in failed_only and f'data-id="{sent}"' not in failed_only
    assert failed_only.count(">Retry</button>") == 1
    message_page = text_of(signed_in.get(f"/console/messages/{failed}"))
    assert 'id="retry-message"' in message_page
    log = message_page.split('id="attempt-log"')[1].split("</table>")[0]
    assert log.count("<tr>") == 2 and ">failed</span>" in log  # a header row and one attempt
    assert "bot was blocked by the user" in log
    retried = signed_in.post(f"/console/messages/{failed}/retry",
                             data={"csrf_token": csrf_of(page), "back": "/console/outbound"})
    assert retried.status_code == 302 and retried.headers["Location"] == "/console/outbound"
    after = text_of(signed_in.get(f"/console/messages/{failed}"))
    assert "queued" in after and '<dd id="attempts">0</dd>' in after
    assert after.split('id="attempt-log"')[1].count(">failed</span>") == 1  # the log is kept
    assert 'id="retry-message"' not in after
    again = signed_in.post(f"/console/messages/{failed}/retry", data={"csrf_token": csrf_of(page)})
    assert again.status_code == 409 and "only a failed send" in text_of(again)
    assert signed_in.post(f"/console/messages/{failed}/retry", data={}).status_code == 400
    assert signed_in.get("/console/outbound?status=bogus").status_code == 422


def test_api_lists_messages_and_retries_a_failed_one(app, fake):
    inbound = receive(fake, "m1")
    failed = failed_send(fake)
    auth = admin_auth(app)
    client = app.test_client()
    listed = client.get("/api/v1/messages?direction=outbound&status=failed", headers=auth).json
    assert [m["id"] for m in listed["items"]] == [failed]
    assert listed["items"][0]["last_error"] == "bot was blocked by the user"
    received = client.get(f"/api/v1/messages?status=received&app_id={fake.app_id}",
                          headers=auth).json
    assert [m["id"] for m in received["items"]] == [inbound]
    both = client.get("/api/v1/messages?limit=1", headers=auth).json
    assert [m["id"] for m in both["items"]] == [failed] and both["next_cursor"]
    assert client.get("/api/v1/messages?direction=inbound&status=failed",
                      headers=auth).json["items"] == []
    assert client.get("/api/v1/messages?status=nope", headers=auth).status_code == 422
    assert client.get("/api/v1/messages?limit=201", headers=auth).status_code == 422
    agent = admin_auth(app, ("agent",))
    assert client.post(f"/api/v1/messages/{failed}/retry", headers=agent).status_code == 403
    retried = client.post(f"/api/v1/messages/{failed}/retry", headers=auth)
    assert retried.status_code == 200 and retried.json["status"] == "queued"
    assert retried.json["attempts"] == 0
    assert client.post(f"/api/v1/messages/{failed}/retry", headers=auth).status_code == 409
    assert client.post(f"/api/v1/messages/{inbound}/retry", headers=auth).status_code == 409
    assert client.post("/api/v1/messages/999999/retry", headers=auth).status_code == 404


def test_api_contacts_search(app, fake):
    fake.add_contact({fake.app_id: "g_1"}, name="Grace")
    auth = admin_auth(app)
    found = app.test_client().get("/api/v1/contacts?search=GRACE", headers=auth).json
    assert [c["name"] for c in found["items"]] == ["Grace"]
    underscore = app.test_client().get("/api/v1/contacts?search=_", headers=auth).json
    assert [c["name"] for c in underscore["items"]] == ["Grace"]  # _ is not LIKE's wildcard


def test_cli_messages_list_and_retry_and_contacts_search(app, fake):
    failed = failed_send(fake)
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["messages", "list", "--direction", "outbound", "--status",
                                 "failed", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [m["id"] for m in json.loads(listed.stdout)["items"]] == [failed]
    text = runner.invoke(args=["messages", "list", "--app", fake.app_id])
    assert text.stdout.splitlines()[0].split() == ["ID", "APP", "DIRECTION", "STATUS",
                                                   "ATTEMPTS", "TEXT"]
    assert runner.invoke(args=["messages", "list", "--limit", "201"]).exit_code == 2
    retried = runner.invoke(args=["messages", "retry", str(failed)])
    assert retried.exit_code == 0 and json.loads(retried.stdout)["status"] == "queued"
    again = runner.invoke(args=["messages", "retry", str(failed)])
    assert again.exit_code == 1 and "conflict" in again.stderr
    found = runner.invoke(args=["contacts", "list", "--search", "love", "--json"])
    assert [c["id"] for c in json.loads(found.stdout)["items"]] == [fake.ada]
