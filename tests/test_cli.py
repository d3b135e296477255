"""The orqo command line, through Flask's CLI runner (the same commands the console script has)."""
import json

from tests.conftest import TOKEN
from tests.plugins.fake_adapter import delivery


def invoke_json(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_init_db_is_safe_to_run_twice(runner):
    for _ in range(2):
        result = runner.invoke(args=["init-db"])
        assert result.exit_code == 0
        assert "Initialised the database" in result.output


def test_apps_create_prints_id_and_webhook_path_and_never_the_secret(runner):
    created = invoke_json(runner, "apps", "create", "--name", "Support", "--adapter", "fake",
                          "--credential", f"token={TOKEN}")
    assert created["webhook_path"] == f"/api/v1/webhooks/{created['id']}"
    assert len(created["id"]) >= 16 and not created["id"].isdigit()
    assert created["credentials_set"] == ["token"]
    listed = invoke_json(runner, "apps", "list", "--json")
    assert [entry["id"] for entry in listed] == [created["id"]]
    assert TOKEN not in json.dumps(listed)
    plain = runner.invoke(args=["apps", "list"])
    assert created["id"] in plain.output and TOKEN not in plain.output


def test_app_ids_are_random(runner):
    ids = {invoke_json(runner, "apps", "create", "--name", f"a{i}", "--adapter", "fake",
                       "--credential", "token=t")["id"] for i in range(3)}
    assert len(ids) == 3


def test_credential_from_a_file(runner, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    created = invoke_json(runner, "apps", "create", "--name", "F", "--adapter", "fake",
                          "--credential", f"token=@{secret_file}")
    assert created["credentials_set"] == ["token"]


def test_apps_create_with_an_unknown_adapter_fails_clearly(runner):
    result = runner.invoke(args=["apps", "create", "--name", "X", "--adapter", "nope"])
    assert result.exit_code == 1
    error = json.loads(result.stderr if hasattr(result, "stderr") else result.output)["error"]
    assert error["code"] == "validation_error"
    assert "nope" in error["details"]["adapter"][0]


def test_apps_create_with_missing_credentials_fails_with_field_details(runner):
    result = runner.invoke(args=["apps", "create", "--name", "X", "--adapter", "fake"])
    assert result.exit_code == 1
    assert "token" in result.output


def test_bad_key_value_is_a_usage_error(runner):
    result = runner.invoke(args=["apps", "create", "--name", "X", "--adapter", "fake",
                                 "--credential", "no-equals-sign"])
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.output


def test_contacts_create_and_conflicts(runner):
    app_id = invoke_json(runner, "apps", "create", "--name", "A", "--adapter", "fake",
                         "--credential", "token=t")["id"]
    contact = invoke_json(runner, "contacts", "create", "--name", "Ada", "--channel",
                          f"{app_id}=U123")
    assert contact["channels"] == [{"app_id": app_id, "sender_id": "U123"}]
    clash = runner.invoke(args=["contacts", "create", "--name", "Eve", "--channel",
                                f"{app_id}=U123"])
    assert clash.exit_code == 1 and "conflict" in clash.output
    unknown = runner.invoke(args=["contacts", "create", "--name", "Eve", "--channel", "nope=U1"])
    assert unknown.exit_code == 1 and "No App has the id" in unknown.output


def test_events_list_shows_the_ledger_newest_first(fake):
    runner = fake.app.test_cli_runner()
    fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1"}), fake.headers)
    fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1"}), fake.headers)
    fake.deliver(fake.app_id, delivery({"sender": "zed", "id": "m2"}), fake.headers)
    events = invoke_json(runner, "deliveries", "list", "--app", fake.app_id, "--json")
    assert [e["outcome"] for e in events] == ["accepted"] * 3
    messages = [e["messages"][0] for e in events]
    assert [m["outcome"] for m in messages] == ["unknown_sender", "duplicate", "routed"]
    assert messages[2]["handler"] == "doorkeeper"
    assert messages[2]["contact_id"] == fake.ada
    assert messages[2]["dedupe_key"] == "m1"
    assert messages[0]["contact_id"] is None
    text = fake.app.test_cli_runner().invoke(args=["deliveries", "list"]).output
    assert "unknown_sender" in text and "doorkeeper" in text
    assert f"message #{messages[0]['id']} " in text and f"delivery #{events[0]['id']} " in text


def test_deliveries_filters_show_and_messages_replay(fake):
    runner = fake.app.test_cli_runner()
    fake.deliver(fake.app_id, delivery({"sender": "newcomer", "id": "n1"}), fake.headers)
    fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "x"}), {"X-Fake-Token": "no"})
    [rejected] = invoke_json(runner, "deliveries", "list", "--outcome", "rejected_signature",
                             "--json")
    assert rejected["outcome"] == "rejected_signature"
    assert invoke_json(runner, "deliveries", "list", "--since", "2999-01-01", "--json") == []
    assert len(invoke_json(runner, "deliveries", "list", "--until", "2999-01-01T00:00:00Z",
                           "--json")) == 2
    bad = runner.invoke(args=["deliveries", "list", "--since", "yesterday"])
    assert bad.exit_code == 2 and "ISO 8601" in bad.output
    accepted = invoke_json(runner, "deliveries", "list", "--outcome", "accepted", "--json")[0]
    shown = invoke_json(runner, "deliveries", "show", str(accepted["id"]))
    carried = {"headers", "body", "body_bytes", "body_truncated"}
    assert {k: v for k, v in shown.items() if k not in carried} == accepted
    assert shown["headers"]["X-Fake-Token"] == "[redacted]" and shown["body"]
    missing = runner.invoke(args=["deliveries", "show", "99999"])
    assert missing.exit_code == 1 and "not_found" in missing.output
    message_id = shown["messages"][0]["id"]
    fake.add_contact({fake.app_id: "newcomer"}, name="Newcomer")
    replayed = invoke_json(runner, "messages", "replay", str(message_id))
    assert replayed["replay_of"] == message_id and replayed["message"]["outcome"] == "routed"
    again = runner.invoke(args=["messages", "replay", str(message_id)])
    assert again.exit_code == 1 and "conflict" in again.output


def test_the_old_command_names_are_gone(runner):
    assert runner.invoke(args=["events", "list"]).exit_code == 2
    assert runner.invoke(args=["pushes", "list"]).exit_code == 0


def test_plugins_lists_plugins_with_versions_and_adapters(runner):
    plugins = invoke_json(runner, "plugins", "--all")
    by_name = {entry["name"]: entry for entry in plugins}
    assert by_name["orqo.default_plugins.doorkeeper"]["hooks"] == ["route_message"]
    assert by_name["orqo.default_plugins.doorkeeper"]["version"]
    [fake_entry] = [entry for entry in plugins if entry["adapters"] == ["fake"]]
    assert fake_entry["hooks"] == ["register_adapters"]
