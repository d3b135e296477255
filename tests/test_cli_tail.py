"""``orqo deliveries tail``: the newest deliveries, then new ones as they are recorded, each
once, polling the ledger's own query; deliveries are sent between polls from a stand-in for
its sleep."""
import json

import pytest

from orqo.cli import ledger as cli_ledger
from tests.plugins.fake_adapter import delivery


@pytest.fixture
def between_polls(monkeypatch):
    """Actions to run at each poll's sleep, in turn (then nothing); the intervals slept."""
    actions, slept = [], []

    def fake_sleep(seconds):
        slept.append(seconds)
        if len(slept) > 20:
            raise AssertionError("tail kept polling")
        if actions:
            actions.pop(0)()

    monkeypatch.setattr(cli_ledger, "sleep", fake_sleep)
    return actions, slept


def send(fake, message_id, sender="ada"):
    fake.deliver(fake.app_id, delivery({"sender": sender, "id": message_id}), fake.headers)


def ids_of(output: str) -> list[int]:
    return [int(line.split()[1].lstrip("#")) for line in output.splitlines()
            if line.startswith("delivery #")]


def test_tail_prints_the_newest_then_follows_new_ones_once(fake, between_polls):
    actions, slept = between_polls
    for n in range(4):
        send(fake, f"old{n}")
    existing = [d["id"] for d in fake.ledger()]  # newest first
    actions.extend([lambda: send(fake, "new1"), lambda: None,
                    lambda: (send(fake, "new2"), send(fake, "new3"))])
    result = fake.app.test_cli_runner().invoke(
        args=["deliveries", "tail", "-n", "2", "--count", "5", "--interval", "0.5"])
    assert result.exit_code == 0, result.output
    printed = ids_of(result.output)
    assert printed[:2] == [existing[1], existing[0]]  # the newest two, oldest first
    assert len(printed) == 5 and printed == sorted(set(printed))
    assert slept and set(slept) == {0.5}
    assert "    message #" in result.output  # the lines of `deliveries list`


def test_tail_filters_and_prints_json_lines(fake, between_polls):
    actions, _slept = between_polls
    send(fake, "a1")
    actions.extend([lambda: fake.deliver(fake.app_id, b"{", fake.headers),
                    lambda: send(fake, "a2"),
                    lambda: fake.deliver(fake.app_id, b"[", fake.headers)])
    result = fake.app.test_cli_runner().invoke(
        args=["deliveries", "tail", "--outcome", "malformed", "--app", fake.app_id,
              "--count", "2", "--json"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["outcome"] for line in lines] == ["malformed", "malformed"]
    assert "body" not in lines[0]  # a listing: no bodies


def test_tail_with_zero_last_prints_only_new_ones_and_stops_on_ctrl_c(fake, between_polls):
    actions, _slept = between_polls
    send(fake, "before")

    def interrupt():
        raise KeyboardInterrupt

    actions.extend([lambda: send(fake, "after"), interrupt])
    result = fake.app.test_cli_runner().invoke(args=["deliveries", "tail", "-n", "0"])
    assert result.exit_code == 0, result.output
    assert len(ids_of(result.output)) == 1
    assert fake.ledger()[0]["id"] == ids_of(result.output)[0]


@pytest.mark.parametrize("args", [["--interval", "0"], ["-n", "201"], ["--count", "0"]])
def test_tail_refuses_bad_options(runner, args):
    result = runner.invoke(args=["deliveries", "tail", *args])
    assert result.exit_code == 2


def test_list_limit_stops_at_the_apis_maximum(runner):
    assert runner.invoke(args=["deliveries", "list", "--limit", "200"]).exit_code == 0
    result = runner.invoke(args=["deliveries", "list", "--limit", "201"])
    assert result.exit_code == 2 and "1<=x<=200" in result.output


def test_tail_prints_a_delivery_committed_after_a_later_one(fake, between_polls):
    """On PostgreSQL an id is handed out when the transaction starts and seen when it
    commits: id 2 can appear after id 3. Tail asks again for the ids it passed over."""
    from sqlalchemy import text

    from orqo.extensions import db

    actions, _slept = between_polls
    send(fake, "first")
    first = fake.ledger()[0]["id"]

    def record(delivery_id):
        def insert():
            with fake.app.app_context():
                db.session.execute(text(
                    "INSERT INTO deliveries (id, app_id, received_at, method, outcome, reason, "
                    "status_code, duration_ms, meta) VALUES (:id, :app, :now, 'POST', "
                    "'accepted', '', 200, 1.0, '{}')"),
                    {"id": delivery_id, "app": fake.app_id, "now": "2026-11-30 02:00:00"})
                db.session.commit()
        return insert

    # The later id commits first; the earlier one a look after.
    actions.extend([record(first + 2), record(first + 1), lambda: None])
    result = fake.app.test_cli_runner().invoke(
        args=["deliveries", "tail", "-n", "1", "--count", "3"])
    assert result.exit_code == 0, result.output
    assert ids_of(result.output) == [first, first + 2, first + 1]


def test_tail_does_not_print_twice_a_delivery_of_its_first_listing(fake, monkeypatch):
    """A delivery recorded between reading the newest id and listing the newest deliveries
    is in the listing and arrives after that id: printed once."""
    from orqo.services import ledger

    send(fake, "one")
    before = ledger.newest_delivery_id

    def newest_then_a_delivery():
        newest = before()
        send(fake, "two")
        return newest

    def three_looks_then_ctrl_c(_seconds, looks=[]):
        looks.append(1)
        if len(looks) > 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(ledger, "newest_delivery_id", newest_then_a_delivery)
    monkeypatch.setattr(cli_ledger, "sleep", three_looks_then_ctrl_c)
    result = fake.app.test_cli_runner().invoke(args=["deliveries", "tail", "-n", "5"])
    assert result.exit_code == 0, result.output
    printed = ids_of(result.output)
    assert len(printed) == 2 and printed == sorted(set(printed))
