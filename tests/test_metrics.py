"""Prometheus metrics: counts per App and outcome, stage latencies, queue depths; correct
across gunicorn workers."""
import json
import re

import requests

from orqo.testing.signers import hmac_headers
from tests.plugins.fake_adapter import delivery


def sample(text: str, name: str, **labels) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if match and match.group(1) == name:
            found = ",".join(sorted((match.group(2) or "").split(","))) if match.group(2) else ""
            if found == wanted:
                return float(match.group(3))
    return 0.0


def test_metrics_count_deliveries_messages_and_queues(fake):
    before = fake.client.get("/metrics").get_data(as_text=True)
    fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1"}), fake.headers)
    fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m1"}), fake.headers)
    fake.deliver(fake.app_id, delivery({"sender": "ada", "id": "m2"}), {"X-Fake-Token": "x"})
    after = fake.client.get("/metrics")
    assert after.content_type.startswith("text/plain")
    text = after.get_data(as_text=True)

    def grew(name, **labels):
        return sample(text, name, **labels) - sample(before, name, **labels)

    assert grew("orqo_deliveries_total", app_id=fake.app_id, outcome="accepted") == 2
    assert grew("orqo_deliveries_total", app_id=fake.app_id, outcome="rejected_signature") == 1
    assert grew("orqo_messages_total", app_id=fake.app_id, outcome="routed",
                handler="doorkeeper") == 1
    assert grew("orqo_messages_total", app_id=fake.app_id, outcome="duplicate", handler="") == 1
    assert grew("orqo_delivery_seconds_count") == 3
    assert sample(text, "orqo_queue_depth", queue="doorkeeper") == 1
    assert sample(text, "orqo_queue_depth", queue="push") == 0


def test_metrics_add_up_across_gunicorn_workers(make_server):
    server = make_server(workers=3)
    app = server.cli_json("apps", "create", "--name", "m", "--adapter", "custom",
                          "--credential", "signing_secret=metrics-signing-secret")
    server.cli_json("contacts", "create", "--name", "Ada", "--channel", f"{app['id']}=ada")
    session = requests.Session()
    for i in range(30):
        body = json.dumps({"id": f"m{i}", "sender": "ada", "text": "hi"}).encode()
        # A new connection per request spreads the requests over the workers.
        response = requests.post(server.url + app["webhook_path"], data=body,
                                 headers={**hmac_headers("metrics-signing-secret", body), "Connection": "close"},
                                 timeout=10)
        assert response.status_code == 200
    scrapes = {sample(session.get(server.url + "/metrics", timeout=10,
                                  headers={"Connection": "close"}).text,
                      "orqo_deliveries_total", app_id=app["id"], outcome="accepted")
               for _ in range(6)}
    assert scrapes == {30.0}  # whichever worker answers, the count is the total
