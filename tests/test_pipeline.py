"""The inbound pipeline through the webhook endpoint: verify, parse, gate, dedupe, route, ledger."""
import json

from sqlalchemy import func
from sqlalchemy import select

from orqo.extensions import db
from orqo.models import Conversation
from orqo.models import ConversationEntry
from orqo.models import Delivery
from orqo.models import MessageRecord
from tests.plugins.fake_adapter import delivery


def row_counts(app):
    with app.app_context():
        counts = {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Delivery, MessageRecord, Conversation, ConversationEntry)
        }
        counts["claimed"] = db.session.scalar(
            select(func.count()).select_from(MessageRecord).where(MessageRecord.claimed))
        return counts


def test_routed_message_is_recorded_and_acknowledged(fake):
    response = fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1", "text": "hi"}),
                            fake.headers)
    assert response.status_code == 200
    assert response.json["outcome"] == "accepted"
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    [entry] = fake.ledger(fake.app_id)
    assert entry["outcome"] == "accepted"
    [message] = entry["messages"]
    assert message["outcome"] == "routed"
    assert message["handler"] == "doorkeeper"
    assert message["contact_id"] == fake.ada
    assert message["dedupe_key"] == "m1"


def test_redelivery_is_duplicate_and_routed_once(fake):
    body = delivery({"sender": "ada", "id": "m1", "text": "hi"})
    first = fake.deliver(fake.app_id, body, fake.headers)
    second = fake.deliver(fake.app_id, body, fake.headers)
    assert first.status_code == second.status_code == 200
    assert second.json["messages"] == [{"outcome": "duplicate", "handler": None}]
    assert row_counts(fake.app)["conversation_entries"] == 1
    outcomes = [m["outcome"] for d in fake.ledger() for m in d["messages"]]
    assert sorted(outcomes) == ["duplicate", "routed"]


def test_same_key_twice_in_one_delivery_is_routed_once(fake):
    body = delivery({"sender": "ada", "id": "m1"}, {"sender": "ada", "id": "m1"})
    response = fake.deliver(fake.app_id, body, fake.headers)
    assert [m["outcome"] for m in response.json["messages"]] == ["routed", "duplicate"]


def test_dedupe_is_per_app(fake):
    other = fake.add_app("fake", {"token": "other"}, name="Other")
    fake.add_contact({other: "ada"}, name="Ada elsewhere")
    body = delivery({"sender": "ada", "id": "m1"})
    assert fake.deliver(fake.app_id, body, fake.headers).json["messages"][0]["outcome"] == "routed"
    response = fake.deliver(other, body, {"X-Fake-Token": "other"})
    assert response.json["messages"][0]["outcome"] == "routed"


def test_unknown_sender_is_acknowledged_but_not_routed(fake):
    response = fake.deliver(fake.app_id, delivery({"sender": "mallory", "id": "m1"}), fake.headers)
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "unknown_sender", "handler": None}]
    assert row_counts(fake.app)["conversation_entries"] == 0
    assert row_counts(fake.app)["claimed"] == 0


def test_sender_known_on_another_app_only_is_unknown_here(fake):
    other = fake.add_app("fake", {"token": "other"}, name="Other")
    fake.add_contact({other: "bob"}, name="Bob")
    response = fake.deliver(fake.app_id, delivery({"sender": "bob", "id": "m1"}), fake.headers)
    assert response.json["messages"][0]["outcome"] == "unknown_sender"


def test_batch_messages_are_gated_and_routed_each_on_their_own(fake):
    fake.add_contact({fake.app_id: "bob"}, name="Bob")
    body = delivery({"sender": "ada", "id": "a1"}, {"sender": "eve", "id": "e1"},
                    {"sender": "bob", "id": "b1"})
    response = fake.deliver(fake.app_id, body, fake.headers)
    assert [m["outcome"] for m in response.json["messages"]] == [
        "routed", "unknown_sender", "routed"]


def test_unknown_app_is_404_and_writes_nothing(fake):
    before = row_counts(fake.app)
    for app_id in ("doesNotExist123", "bad id!", "x" * 200):
        response = fake.deliver(app_id, delivery({"sender": "ada", "id": "m1"}), fake.headers)
        assert response.status_code == 404
        assert response.json["error"]["code"] == "unknown_app"
    assert row_counts(fake.app) == before


def test_wrong_signature_is_401_recorded_and_nothing_parsed(fake):
    response = fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1"}),
                            {"X-Fake-Token": "wrong"})
    assert response.status_code == 401
    assert response.json["error"]["code"] == "rejected_signature"
    [entry] = fake.ledger()
    assert entry["outcome"] == "rejected_signature"
    assert entry["messages"] == []
    assert row_counts(fake.app)["messages"] == 0


def test_missing_signature_is_401(fake):
    response = fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1"}))
    assert response.status_code == 401
    assert "missing" in response.json["error"]["message"]


def test_body_over_the_limit_is_413(make_app):
    from tests.plugins import fake_adapter
    from orqo.testing import Harness

    harness = Harness(make_app(plugins=[fake_adapter], MAX_CONTENT_LENGTH=1024))
    app_id = harness.add_app("fake", {"token": "t"})
    response = harness.deliver(app_id, b"x" * 2048, {"X-Fake-Token": "t"})
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_entity_too_large"


def test_malformed_body_is_400_and_recorded(fake):
    response = fake.deliver(fake.app_id, b"{not json", fake.headers)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed"
    assert fake.ledger()[0]["outcome"] == "malformed"


def test_challenge_is_echoed_and_processing_stops(fake):
    response = fake.deliver(fake.app_id, json.dumps({"challenge": "abc123"}).encode(), fake.headers)
    assert response.status_code == 200
    assert response.data == b"abc123"
    assert response.content_type.startswith("text/plain")
    assert fake.ledger()[0]["outcome"] == "challenge"


def test_nothing_to_route_is_accepted_with_reason(fake):
    response = fake.deliver(fake.app_id, delivery(reason="status update"), fake.headers)
    assert response.status_code == 200
    assert response.json["messages"] == []
    assert fake.ledger()[0]["reason"] == "status update"


def test_adapter_crash_is_503_with_retry_after_and_recorded(fake):
    response = fake.deliver(fake.app_id, json.dumps({"crash": True}).encode(), fake.headers)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    [entry] = fake.ledger()
    assert entry["outcome"] == "adapter_error"
    assert "fake adapter crashed" in entry["reason"]


def test_message_that_breaks_the_format_is_malformed_naming_the_field(fake):
    body = delivery({"sender": "ada", "id": "m1"}, bad_result=True)
    response = fake.deliver(fake.app_id, body, fake.headers)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "malformed"
    assert "dedupe_key" in fake.ledger()[0]["reason"]
    assert row_counts(fake.app)["messages"] == 0


def test_a_value_past_the_limits_is_the_same_400_for_every_adapter(fake):
    body = delivery({"sender": "a" * 513, "id": "m1"})
    response = fake.deliver(fake.app_id, body, fake.headers)
    assert response.status_code == 400
    assert "sender_id: longer than 512 characters" in response.json["error"]["message"]


def test_parse_answer_that_is_not_a_parse_result_is_adapter_error(fake):
    response = fake.deliver(fake.app_id, json.dumps({"not_a_result": True}).encode(),
                            fake.headers)
    assert response.status_code == 503
    assert "not a ParseResult" in fake.ledger()[0]["reason"]


def test_app_whose_adapter_is_not_installed_is_adapter_error(fake, make_app):
    from orqo.testing import Harness

    bare = Harness(make_app())  # same database, no fake adapter installed
    response = bare.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1"}), fake.headers)
    assert response.status_code == 503
    assert "not installed" in bare.ledger()[0]["reason"]


def test_database_unavailable_is_503_with_retry_after(make_app):
    from tests.plugins import fake_adapter

    down = make_app(plugins=[fake_adapter], create_tables=False,
                    DATABASE_URL="postgresql://orqo@127.0.0.1:1/none", DATABASE_CONNECT_TIMEOUT=1)
    response = down.test_client().post("/api/v1/webhooks/anyAppId", data=b"{}")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json["error"]["code"] == "database_unavailable"


def test_get_without_handshake_support_is_rejected(fake):
    response = fake.deliver(fake.app_id, method="GET", query={"hub.challenge": "1"})
    assert response.status_code == 401


def test_other_methods_are_405_with_the_error_shape(fake):
    response = fake.client.put(f"/api/v1/webhooks/{fake.app_id}", data=b"x")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_rejected_body_is_never_stored(fake):
    secret_body = delivery({"sender": "ada", "id": "m1", "text": "CONFIDENTIAL-42"})
    fake.deliver(fake.app_id, secret_body, {"X-Fake-Token": "wrong"})
    with fake.app.app_context():
        rows = db.session.execute(select(Delivery.reason, Delivery.meta)).all()
    assert "CONFIDENTIAL-42" not in repr(rows)


def test_rotated_secret_old_one_accepted_until_its_time(fake):
    from datetime import timedelta

    from orqo.models import App
    from orqo.services.apps import rotate_credentials

    with fake.app.app_context():
        rotate_credentials(fake.app_id, {"token": "new-token"}, keep_previous_for=3600)
    old, new = fake.headers, {"X-Fake-Token": "new-token"}
    assert fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "1"}), new).status_code == 200
    assert fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "2"}), old).status_code == 200
    with fake.app.app_context():  # the grace period ends
        record = db.session.get(App, fake.app_id)
        record.previous_credentials_until = record.previous_credentials_until - timedelta(hours=2)
        db.session.commit()
    assert fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "3"}), old).status_code == 401
    assert fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "4"}), new).status_code == 200


def test_rotation_without_grace_ends_the_old_secret_at_once(fake):
    runner = fake.app.test_cli_runner()
    result = runner.invoke(args=["apps", "rotate-credentials", fake.app_id, "--credential",
                                 "token=brand-new", "--keep-previous-for", "0"])
    assert result.exit_code == 0, result.output
    assert "brand-new" not in result.output
    assert fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "1"}),
                        fake.headers).status_code == 401


def test_characters_no_database_can_store_never_make_a_5xx(fake):
    body = json.dumps({"messages": [{
        "sender": "ada", "id": "m1", "text": "nul:\u0000 lone:\ud800 end",
        "name": "A" * 600}]}).encode()
    response = fake.deliver(fake.app_id, body, fake.headers)
    assert response.status_code == 200, response.json
    assert response.json["messages"][0]["outcome"] == "routed"
    with fake.app.app_context():
        record = db.session.scalars(select(MessageRecord)).one()
        assert record.text == "nul:\ufffd lone:\ufffd end"
        assert len(record.sender_name) == 512


def test_a_flooding_contact_is_throttled_without_slowing_others(make_app):
    from orqo.testing import Harness
    from tests.plugins import fake_adapter

    harness = Harness(make_app(plugins=[fake_adapter], SENDER_RATE_LIMIT=3))
    app_id = harness.add_app("fake", {"token": "t"})
    harness.add_contact({app_id: "flood"}, name="Flood")
    harness.add_contact({app_id: "calm"}, name="Calm")
    headers = {"X-Fake-Token": "t"}
    outcomes = [harness.deliver(app_id, delivery({"sender": "flood", "id": f"f{i}"}), headers)
                for i in range(5)]
    assert [r.status_code for r in outcomes] == [200] * 5
    assert [r.json["messages"][0]["outcome"] for r in outcomes] == [
        "routed", "routed", "routed", "throttled", "throttled"]
    calm = harness.deliver(app_id, delivery({"sender": "calm", "id": "c1"}), headers)
    assert calm.json["messages"][0]["outcome"] == "routed"


def test_duplicates_do_not_count_and_throttled_messages_can_be_replayed(make_app, clock):
    from orqo.services.ledger import replay
    from orqo.testing import Harness
    from tests.plugins import fake_adapter

    harness = Harness(make_app(plugins=[fake_adapter], SENDER_RATE_LIMIT=1))
    app_id = harness.add_app("fake", {"token": "t"})
    harness.add_contact({app_id: "ada"})
    headers = {"X-Fake-Token": "t"}
    send = lambda mid: harness.deliver(  # noqa: E731
        app_id, delivery({"sender": "ada", "id": mid}), headers).json["messages"][0]["outcome"]
    assert [send("a"), send("a"), send("a"), send("b")] == [
        "routed", "duplicate", "duplicate", "throttled"]
    throttled_id = harness.ledger()[0]["messages"][0]["id"]
    clock.shift(61)  # the minute is over
    with harness.app.app_context():
        _delivery, record = replay(throttled_id)
        assert record.outcome == "routed"


def test_a_text_past_40000_characters_is_cut_and_marked(fake):
    """3 MB texts made a conversation read 60 MB long (issue 15, finding 12): a text is kept
    to MAX_TEXT characters, its original length in ``extra``, for every adapter."""
    from orqo.messages import MAX_TEXT

    text = "é" * 300_000 + "end"
    response = fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1", "text": text}),
                            fake.headers)
    assert response.status_code == 200
    assert response.json["messages"] == [{"outcome": "routed", "handler": "doorkeeper"}]
    with fake.app.app_context():
        stored, extra = db.session.execute(select(MessageRecord.text, MessageRecord.extra)).one()
    assert MAX_TEXT == 40_000 and stored == text[:MAX_TEXT]
    assert extra == {"text_truncated_from": len(text)}


def test_a_reason_with_a_character_no_database_stores_is_recorded_cleaned(fake):
    """An adapter's reason holding U+0000 (PostgreSQL refuses it) was a 422 on PostgreSQL:
    the fuzz test of signed webhooks found it."""
    response = fake.deliver(fake.app_id, delivery(reason="nothing\u0000here"), fake.headers)
    assert response.status_code == 200
    assert fake.ledger()[0]["reason"] == "nothing\ufffdhere"
