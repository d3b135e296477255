"""Routing: the waitbox handler first, Doorkeeper as the fallback."""
import time

from sqlalchemy import select

from orqo.extensions import db
from orqo.models import ConversationEntry
from tests.plugins.fake_adapter import delivery


def send(fake, message_id, sender="ada", **fields):
    body = delivery({"sender": sender, "id": message_id, **fields})
    response = fake.deliver(fake.app_id, body, fake.headers)
    assert response.status_code == 200, response.json
    return response.json["messages"][0]


def test_waitbox_takes_the_reply_and_only_one(fake):
    waitbox = fake.open_waitbox(fake.app_id, fake.ada, reference="run-7/step-2")
    assert fake.waitbox(waitbox)["status"] == "waiting"
    assert send(fake, "m1", text="yes") == {"outcome": "routed", "handler": "waitbox"}
    answered = fake.waitbox(waitbox)
    assert answered["status"] == "answered"
    assert answered["message_id"] is not None
    assert send(fake, "m2", text="and more") == {"outcome": "routed", "handler": "doorkeeper"}


def test_waitbox_answer_is_the_message_and_ledger_names_it(fake):
    waitbox = fake.open_waitbox(fake.app_id, fake.ada)
    send(fake, "m1", text="approve")
    [entry] = fake.ledger()
    assert entry["messages"][0]["handler_ref"] == str(waitbox)
    assert fake.waitbox(waitbox)["message_id"] == entry["messages"][0]["id"]


def test_waitbox_of_another_contact_is_not_taken(fake):
    bob = fake.add_contact({fake.app_id: "bob"}, name="Bob")
    waitbox = fake.open_waitbox(fake.app_id, bob)
    assert send(fake, "m1")["handler"] == "doorkeeper"
    assert fake.waitbox(waitbox)["status"] == "waiting"


def test_thread_bound_waitbox_takes_only_replies_in_its_thread(fake):
    waitbox = fake.open_waitbox(fake.app_id, fake.ada, thread_id="T1")
    assert send(fake, "m1")["handler"] == "doorkeeper"
    assert send(fake, "m2", thread="T2")["handler"] == "doorkeeper"
    assert send(fake, "m3", thread="T1")["handler"] == "waitbox"
    assert fake.waitbox(waitbox)["status"] == "answered"


def test_exact_thread_match_wins_over_an_older_threadless_waitbox(fake):
    threadless = fake.open_waitbox(fake.app_id, fake.ada)
    threaded = fake.open_waitbox(fake.app_id, fake.ada, thread_id="T1")
    send(fake, "m1", thread="T1")
    assert fake.waitbox(threaded)["status"] == "answered"
    assert fake.waitbox(threadless)["status"] == "waiting"
    send(fake, "m2", thread="T1")  # the thread-less waitbox also takes thread replies
    assert fake.waitbox(threadless)["status"] == "answered"


def test_oldest_waitbox_first(fake):
    first = fake.open_waitbox(fake.app_id, fake.ada, reference="first")
    second = fake.open_waitbox(fake.app_id, fake.ada, reference="second")
    send(fake, "m1")
    assert [fake.waitbox(first)["status"], fake.waitbox(second)["status"]] == ["answered", "waiting"]
    send(fake, "m2")
    assert fake.waitbox(second)["status"] == "answered"


def test_expired_waitbox_takes_nothing(fake):
    waitbox = fake.open_waitbox(fake.app_id, fake.ada, expires_in=0.05)
    time.sleep(0.1)
    assert send(fake, "m1")["handler"] == "doorkeeper"
    assert fake.waitbox(waitbox)["status"] == "expired"


def test_duplicate_does_not_answer_a_second_waitbox(fake):
    first = fake.open_waitbox(fake.app_id, fake.ada)
    second = fake.open_waitbox(fake.app_id, fake.ada)
    send(fake, "m1")
    assert send(fake, "m1")["outcome"] == "duplicate"
    assert fake.waitbox(first)["status"] == "answered"
    assert fake.waitbox(second)["status"] == "waiting"


def test_doorkeeper_keeps_one_conversation_per_chat_and_thread(fake):
    send(fake, "m1", chat="C1")
    send(fake, "m2", chat="C1")
    send(fake, "m3", chat="C1", thread="T1")
    send(fake, "m4", chat="C2")
    refs = [m["handler_ref"] for d in reversed(fake.ledger()) for m in d["messages"]]
    assert refs[0] == refs[1]
    assert len({refs[0], refs[2], refs[3]}) == 3
    with fake.app.app_context():
        entries = db.session.scalars(select(ConversationEntry.conversation_id)
                                     .order_by(ConversationEntry.id)).all()
    assert [str(e) for e in entries] == refs
