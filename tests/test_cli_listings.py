"""Every listing prints aligned text columns unless given --json (issue 17): tokens,
workflows, runs and pushes, whose text used to be JSON only; and deleting a workflow with a
run in progress is refused by the API unless forced, as the CLI warns before forcing it."""
import json

import pytest

from orqo.services.tokens import issue_token
from tests.test_cli_api_parity import invoke_json


def lines(runner, *args):
    result = runner.invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def column_starts(header: str) -> list[int]:
    """Where each column of a header line starts (columns are upper-case words, or words
    joined by one space, two or more spaces apart)."""
    import re

    return [m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", header)]


def assert_aligned(rows: list[str], header: tuple[str, ...]):
    assert rows[0].split("  ")[0] == header[0]
    starts = column_starts(rows[0])
    assert [rows[0][i:].split("  ")[0] for i in starts] == list(header)
    for row in rows[1:]:
        for start in starts[1:]:
            assert row[start - 1] == " " and row[start] != " ", (row, start)


def test_tokens_list_is_a_table_without_secrets(app, runner):
    with app.app_context():
        _token, secret = issue_token("ops with a long name", ["admin", "agent"])
        issue_token("runtime", ["agent"])
    rows = lines(runner, "tokens", "list")
    assert_aligned(rows, ("ID", "PREFIX", "SCOPES", "REVOKED", "LAST USED", "NAME"))
    assert rows[1].split()[2] == "admin,agent" and rows[1].endswith("ops with a long name")
    assert secret not in "\n".join(rows)
    assert [t["name"] for t in invoke_json(runner, "tokens", "list", "--json")] == [
        "ops with a long name", "runtime"]


def test_workflows_and_runs_lists_are_tables(app, runner):
    busy = invoke_json(runner, "workflows", "create", "--name", "busy")["id"]
    invoke_json(runner, "workflows", "create", "--name", "off", "--disabled")
    rows = lines(runner, "workflows", "list")
    assert_aligned(rows, ("ID", "ENABLED", "CREATED", "NAME"))
    assert [(r.split()[1], r.split()[-1]) for r in rows[1:]] == [("yes", "busy"), ("no", "off")]
    trigger = invoke_json(runner, "triggers", "create", str(busy))
    for _ in range(2):
        assert app.test_client().post(trigger["url_path"], json={"n": 1}).status_code == 201
    rows = lines(runner, "runs", "list", "--workflow", str(busy))
    assert_aligned(rows, ("ID", "WORKFLOW", "STATUS", "CREATED", "FINISHED", "TRIGGER", "ERROR"))
    assert [r.split()[0] for r in rows[1:]] == ["2", "1"]
    assert all(r.split()[2] == "queued" and f"webhook:{trigger['id']}" in r for r in rows[1:])
    assert invoke_json(runner, "runs", "list", "--json", "--limit", "1")[0]["input"] == {"n": 1}


def test_pushes_list_is_a_table_and_json_has_the_attempts(runner):
    assert lines(runner, "pushes", "list") == [
        "ID  MESSAGE  STATUS  ATTEMPTS  NEXT ATTEMPT  LAST ERROR"]
    assert invoke_json(runner, "pushes", "list", "--json") == []


@pytest.mark.parametrize("command", [["pushes", "list"], ["runs", "list"]])
def test_limit_stops_where_the_api_does(runner, command):
    result = runner.invoke(args=[*command, "--limit", "201"])
    assert result.exit_code == 2 and "1<=x<=200" in result.output


def test_api_refuses_deleting_a_workflow_with_runs_in_progress_unless_forced(app, runner):
    with app.app_context():
        _token, secret = issue_token("admin", ["admin"])
    client, auth = app.test_client(), {"Authorization": f"Bearer {secret}"}
    workflow = client.post("/api/v1/workflows", json={"name": "w"}, headers=auth).json["id"]
    trigger = invoke_json(runner, "triggers", "create", str(workflow))
    assert client.post(trigger["url_path"], json={}).status_code == 201
    refused = client.delete(f"/api/v1/workflows/{workflow}", headers=auth)
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "runs_in_progress"
    assert refused.json["error"]["details"] == {"runs_in_progress": 1}
    assert client.get(f"/api/v1/workflows/{workflow}", headers=auth).status_code == 200
    bad = client.delete(f"/api/v1/workflows/{workflow}?force=maybe", headers=auth)
    assert bad.status_code == 422 and "force" in json.dumps(bad.json)
    forced = client.delete(f"/api/v1/workflows/{workflow}?force=true", headers=auth)
    assert forced.status_code == 204
    assert client.get(f"/api/v1/workflows/{workflow}", headers=auth).status_code == 404
    idle = client.post("/api/v1/workflows", json={"name": "idle"}, headers=auth).json["id"]
    assert client.delete(f"/api/v1/workflows/{idle}", headers=auth).status_code == 204
