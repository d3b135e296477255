"""The commands that make the CLI cover the API (issue 17): apps, contacts, workflows and
triggers, full URLs from PUBLIC_BASE_URL, warnings, ``--version`` and ``--help``."""
import json

import pytest
from click.testing import CliRunner

from orqo.cli import main
from tests.conftest import TOKEN


def invoke_json(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def error_of(result):
    assert result.exit_code == 1, result.output
    return json.loads(result.stderr.strip().splitlines()[-1])["error"]


@pytest.fixture
def app_id(runner):
    return invoke_json(runner, "apps", "create", "--name", "Support", "--adapter", "fake",
                       "--credential", f"token={TOKEN}")["id"]


def test_apps_show_and_create_print_the_full_webhook_url(runner, app_id):
    shown = invoke_json(runner, "apps", "show", app_id)
    assert shown["webhook_url"] == f"http://127.0.0.1:8000/api/v1/webhooks/{app_id}"
    assert TOKEN not in json.dumps(shown)
    assert error_of(runner.invoke(args=["apps", "show", "nope"]))["code"] == "not_found"


def test_public_base_url_setting_makes_the_urls(make_app):
    from tests.plugins import fake_adapter

    app = make_app(plugins=[fake_adapter], PUBLIC_BASE_URL="https://hooks.example.org/orqo/")
    runner = app.test_cli_runner()
    created = invoke_json(runner, "apps", "create", "--name", "A", "--adapter", "fake",
                          "--credential", "token=t")
    assert created["webhook_url"] == (
        f"https://hooks.example.org/orqo/api/v1/webhooks/{created['id']}")
    workflow = invoke_json(runner, "workflows", "create", "--name", "w")
    trigger = invoke_json(runner, "triggers", "create", str(workflow["id"]))
    assert trigger["url"] == "https://hooks.example.org/orqo" + trigger["url_path"]


@pytest.mark.parametrize("value", ["ftp://x", "127.0.0.1:8000", "http://x/?a=1", ""])
def test_public_base_url_must_be_a_url(make_app, value):
    from orqo.config import InvalidSetting

    with pytest.raises(InvalidSetting, match="PUBLIC_BASE_URL"):
        make_app(PUBLIC_BASE_URL=value)


def test_apps_list_columns_are_aligned(runner, app_id):
    other = invoke_json(runner, "apps", "create", "--name", "A much longer name", "--adapter",
                        "fake", "--credential", "token=t")["id"]
    lines = runner.invoke(args=["apps", "list"]).stdout.splitlines()
    assert lines[0].split() == ["ID", "ADAPTER", "STATE", "NAME", "WEBHOOK_URL"]
    starts = {line.index("http") for line in lines[1:]}
    assert len(starts) == 1 and lines[0].index("WEBHOOK_URL") in starts
    assert app_id in lines[1] and other in lines[2]


def test_apps_update_changes_only_what_is_given(runner, app_id):
    updated = invoke_json(runner, "apps", "update", app_id, "--name", "Renamed",
                          "--no-route-to-doorkeeper")
    assert updated["name"] == "Renamed" and updated["route_to_doorkeeper"] is False
    assert updated["credentials_set"] == ["token"]
    nothing = runner.invoke(args=["apps", "update", app_id])
    assert nothing.exit_code == 2 and "Nothing to change" in nothing.output
    assert error_of(runner.invoke(args=["apps", "update", app_id, "--name", " "]))


def test_apps_delete_asks_first_and_says_it_deletes_the_ledger(runner, app_id):
    refused = runner.invoke(args=["apps", "delete", app_id], input="n\n")
    assert refused.exit_code == 1 and "ledger" in refused.output
    assert invoke_json(runner, "apps", "show", app_id)["id"] == app_id
    asked = runner.invoke(args=["apps", "delete", app_id], input="y\n")
    assert asked.exit_code == 0 and f"Deleted App {app_id}" in asked.stdout
    assert error_of(runner.invoke(args=["apps", "show", app_id]))["code"] == "not_found"
    again = invoke_json(runner, "apps", "create", "--name", "B", "--adapter", "fake",
                        "--credential", "token=t")["id"]
    assert runner.invoke(args=["apps", "delete", again, "--yes"]).exit_code == 0
    assert error_of(runner.invoke(args=["apps", "delete", "nope", "--yes"]))["code"] == "not_found"


def test_contacts_list_show_update_delete(runner, app_id):
    ids = [invoke_json(runner, "contacts", "create", "--name", name, "--channel",
                       f"{app_id}={name.lower()}")["id"] for name in ("Ada", "Bob", "Cy")]
    invoke_json(runner, "contacts", "create", "--name", "Nobody")
    page = invoke_json(runner, "contacts", "list", "--app", app_id, "--limit", "2", "--json")
    assert [c["id"] for c in page["items"]] == [ids[2], ids[1]] and page["next_cursor"]
    rest = invoke_json(runner, "contacts", "list", "--app", app_id, "--json",
                       "--cursor", page["next_cursor"])
    assert [c["id"] for c in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    text = runner.invoke(args=["contacts", "list", "--limit", "1"])
    assert text.stdout.splitlines()[0].split() == ["ID", "NAME", "CHANNELS"]
    assert "--cursor" in text.stderr
    assert invoke_json(runner, "contacts", "show", str(ids[0]))["name"] == "Ada"
    updated = invoke_json(runner, "contacts", "update", str(ids[0]), "--name", "Ada L",
                          "--channel", f"{app_id}=ada2")
    assert updated["name"] == "Ada L"
    assert updated["channels"] == [{"app_id": app_id, "sender_id": "ada2"}]
    clash = runner.invoke(args=["contacts", "update", str(ids[0]), "--channel", f"{app_id}=bob"])
    assert error_of(clash)["code"] == "conflict"
    cleared = invoke_json(runner, "contacts", "update", str(ids[0]), "--no-channels")
    assert cleared["channels"] == []
    assert runner.invoke(args=["contacts", "delete", str(ids[0])]).exit_code == 0
    assert error_of(runner.invoke(args=["contacts", "show", str(ids[0])]))["code"] == "not_found"


def test_limit_stops_at_the_apis_maximum(runner):
    assert runner.invoke(args=["contacts", "list", "--limit", "200"]).exit_code == 0
    for args in (["contacts", "list"], ["runs", "list"]):
        result = runner.invoke(args=[*args, "--limit", "201"])
        assert result.exit_code == 2 and "1<=x<=200" in result.output


def test_bad_cursor_is_one_line(runner):
    assert error_of(runner.invoke(args=["contacts", "list", "--cursor", "x"]))["code"] == \
        "validation_error"


def test_triggers_list_and_delete(runner, app_id):
    workflow = invoke_json(runner, "workflows", "create", "--name", "w")["id"]
    token_url = invoke_json(runner, "triggers", "create", str(workflow))
    assert token_url["url"] == "http://127.0.0.1:8000" + token_url["url_path"]
    event = invoke_json(runner, "triggers", "create-app-event", str(workflow), "--app", app_id,
                        "--filter", '{"sender_id": "ada"}')
    listed = invoke_json(runner, "triggers", "list", str(workflow), "--json")
    assert [t["id"] for t in listed["triggers"]] == [token_url["id"]]
    assert "url_path" not in listed["triggers"][0] and "url" not in listed["triggers"][0]
    assert [t["id"] for t in listed["app_event_triggers"]] == [event["id"]]
    text = runner.invoke(args=["triggers", "list", str(workflow)])
    assert text.stdout.splitlines()[0].split() == ["KIND", "ID", "ENABLED", "APP", "DETAILS"]
    assert '{"sender_id": "ada"}' in text.stdout and token_url["url_path"] not in text.output
    assert runner.invoke(args=["triggers", "delete", str(token_url["id"])]).exit_code == 0
    assert runner.invoke(args=["triggers", "delete-app-event", str(event["id"])]).exit_code == 0
    assert invoke_json(runner, "triggers", "list", str(workflow), "--json") == {
        "triggers": [], "app_event_triggers": []}
    assert error_of(runner.invoke(args=["triggers", "delete", str(token_url["id"])]))["code"] \
        == "not_found"
    assert error_of(runner.invoke(args=["triggers", "list", "999"]))["code"] == "not_found"


def test_app_event_trigger_on_an_app_routing_to_doorkeeper_warns(runner, app_id):
    workflow = str(invoke_json(runner, "workflows", "create", "--name", "w")["id"])
    result = runner.invoke(args=["triggers", "create-app-event", workflow, "--app", app_id])
    assert result.exit_code == 0
    [warning] = json.loads(result.stdout)["warnings"]
    assert "Doorkeeper" in warning and "never fires" in warning
    assert result.stderr.startswith("warning: ") and "Doorkeeper" in result.stderr
    invoke_json(runner, "apps", "update", app_id, "--no-route-to-doorkeeper")
    quiet = runner.invoke(args=["triggers", "create-app-event", workflow, "--app", app_id])
    assert json.loads(quiet.stdout)["warnings"] == [] and quiet.stderr == ""


def test_app_event_trigger_warning_in_the_api_answer(app, runner, app_id):
    from orqo.services.tokens import issue_token

    with app.app_context():
        _token, secret = issue_token("admin", ["admin"])
    client = app.test_client()
    auth = {"Authorization": f"Bearer {secret}"}
    workflow = client.post("/api/v1/workflows", json={"name": "w"}, headers=auth).json
    answer = client.post(f"/api/v1/workflows/{workflow['id']}/app-event-triggers",
                         json={"app_id": app_id}, headers=auth)
    assert answer.status_code == 201 and "Doorkeeper" in answer.json["warnings"][0]
    shown = client.get(f"/api/v1/apps/{app_id}", headers=auth).json
    assert shown["webhook_url"].endswith(f"/api/v1/webhooks/{app_id}")


def test_workflow_delete_asks_when_a_run_is_in_progress(app, runner):
    idle = str(invoke_json(runner, "workflows", "create", "--name", "idle")["id"])
    assert runner.invoke(args=["workflows", "delete", idle]).exit_code == 0
    busy = invoke_json(runner, "workflows", "create", "--name", "busy")["id"]
    assert invoke_json(runner, "workflows", "show", str(busy))["name"] == "busy"
    trigger = invoke_json(runner, "triggers", "create", str(busy))
    assert app.test_client().post(trigger["url_path"], json={}).status_code == 201
    refused = runner.invoke(args=["workflows", "delete", str(busy)], input="n\n")
    assert refused.exit_code == 1 and "1 run(s) in progress" in refused.stderr
    assert invoke_json(runner, "workflows", "show", str(busy))["id"] == busy
    assert runner.invoke(args=["workflows", "delete", str(busy), "--yes"]).exit_code == 0
    assert error_of(runner.invoke(args=["workflows", "show", str(busy)]))["code"] == "not_found"


def test_workflows_update_renames(runner):
    workflow = str(invoke_json(runner, "workflows", "create", "--name", "w")["id"])
    assert invoke_json(runner, "workflows", "update", workflow, "--name", "v")["name"] == "v"


@pytest.mark.parametrize("args", [["tokens", "list"], ["workflows", "list"], ["runs", "list"]])
def test_json_is_accepted_by_every_listing(runner, args):
    assert isinstance(invoke_json(runner, *args, "--json"), list)


def test_version_is_orqos_with_the_installed_plugins(monkeypatch):
    from orqo import __version__

    monkeypatch.setattr("orqo.cli.installed_plugins", lambda: [("custom", "orqo-custom", "9.9")])
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == f"orqo {__version__}"
    assert "  custom 9.9 (orqo-custom)" in result.output
    assert "Flask" not in result.output and "Werkzeug" not in result.output


def test_help_lists_orqos_commands_before_flasks(tmp_path, monkeypatch):
    monkeypatch.setenv("ORQO_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("ORQO_LOAD_ENTRYPOINTS", "false")
    text = CliRunner().invoke(main, ["--help"]).output
    assert text.index("apps") < text.index("Flask's commands:") < text.index("routes")
    assert "--app" not in text and "--debug" not in text and "orqo's version" in text
