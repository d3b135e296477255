"""``orqo waitboxes`` and ``orqo conversations`` (issue 17: the CLI covers the API), and
``orqo runs show``: the same service functions as the API, so the same answers."""
import json

from tests.test_api_agent import agent  # noqa: F401  (fixture)
from tests.test_api_agent import send
from tests.test_cli_api_parity import error_of
from tests.test_cli_api_parity import invoke_json


def open_waitbox(agent, **fields):  # noqa: F811
    answer = agent.client.post("/api/v1/waitboxes", headers=agent.auth, json={
        "app_id": agent.app_id, "contact_id": agent.ada, "expires_in": 600, **fields})
    assert answer.status_code == 201, answer.json
    return answer.json


def test_waitboxes_list_show_and_cancel_match_the_api(agent):  # noqa: F811
    runner = agent.app.test_cli_runner()
    answered = open_waitbox(agent, reference="run-1/approve")
    send(agent, "m1", text="Approved")
    waiting = open_waitbox(agent, reference="run-2/approve")
    result = runner.invoke(args=["waitboxes", "list"])
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[0].split() == ["ID", "APP", "CONTACT", "STATUS", "EXPIRES", "THREAD", "MESSAGE",
                               "REFERENCE"]
    assert [(r.split()[0], r.split()[3], r.split()[-1]) for r in rows[1:]] == [
        (str(waiting["id"]), "waiting", "run-2/approve"),
        (str(answered["id"]), "answered", "run-1/approve")]
    api = agent.client.get("/api/v1/waitboxes", headers=agent.auth).json
    assert invoke_json(runner, "waitboxes", "list", "--json") == api
    shown = invoke_json(runner, "waitboxes", "show", str(answered["id"]))
    assert shown["message"]["text"] == "Approved"
    only_waiting = agent.client.get("/api/v1/waitboxes?status=waiting", headers=agent.auth).json
    assert [w["id"] for w in only_waiting["items"]] == [waiting["id"]]
    assert invoke_json(runner, "waitboxes", "list", "--status", "waiting", "--json") == only_waiting
    bad = agent.client.get("/api/v1/waitboxes?status=lost", headers=agent.auth)
    assert bad.status_code == 422 and "status" in bad.json["error"]["details"]["query"]
    assert invoke_json(runner, "waitboxes", "cancel", str(waiting["id"]))["status"] == "cancelled"
    assert error_of(runner.invoke(args=["waitboxes", "cancel", str(waiting["id"])]))[
        "code"] == "conflict"
    assert error_of(runner.invoke(args=["waitboxes", "show", "999"]))["code"] == "not_found"
    first = runner.invoke(args=["waitboxes", "list", "--limit", "1"])
    assert "more: --cursor " in first.stderr
    cursor = first.stderr.split("--cursor ")[1].strip()
    rest = invoke_json(runner, "waitboxes", "list", "--json", "--cursor", cursor)
    assert [w["id"] for w in rest["items"]] == [answered["id"]]


def test_conversations_show_reads_a_conversation_a_page_at_a_time(agent):  # noqa: F811
    runner = agent.app.test_cli_runner()
    send(agent, "m1", text="What is my balance?")
    send(agent, "m2", text="And my limit?")
    claimed = agent.client.post("/api/v1/doorkeeper/claims", headers=agent.auth,
                                json={"claimant": "a"}).json
    conversation_id = claimed["messages"][0]["conversation_id"]
    api = agent.client.get(f"/api/v1/conversations/{conversation_id}",
                           headers=agent.auth).json
    assert invoke_json(runner, "conversations", "show", str(conversation_id), "--json") == api
    text = runner.invoke(args=["conversations", "show", str(conversation_id)]).stdout
    lines = text.splitlines()
    assert lines[0].startswith(f"conversation {conversation_id}: App {agent.app_id}")
    assert lines[2].endswith("What is my balance?") and lines[3].endswith("And my limit?")
    assert " inbound " in lines[2]
    paged = runner.invoke(args=["conversations", "show", str(conversation_id), "--limit", "1"])
    assert "And my limit?" not in paged.stdout and "more: --cursor" in paged.stderr
    assert error_of(runner.invoke(args=["conversations", "show", "999"]))["code"] == "not_found"
    bad = runner.invoke(args=["conversations", "show", str(conversation_id), "--cursor", "x"])
    assert json.loads(bad.stderr.strip().splitlines()[-1])["error"]["code"] == "validation_error"


def test_runs_show_prints_one_run(app, runner):
    workflow = invoke_json(runner, "workflows", "create", "--name", "w")["id"]
    trigger = invoke_json(runner, "triggers", "create", str(workflow))
    run = app.test_client().post(trigger["url_path"], json={"ref": "v1"}).json
    shown = invoke_json(runner, "runs", "show", str(run["workflow_run_id"]))
    assert shown["input"] == {"ref": "v1"} and shown["status"] == "queued"
    assert error_of(runner.invoke(args=["runs", "show", "999"]))["code"] == "not_found"
