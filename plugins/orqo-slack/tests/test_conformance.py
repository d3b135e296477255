"""The Slack adapter passes the adapter conformance suite."""
import json
import time
import zlib

import orqo_slack
from orqo_slack.testing import OTHER_SECRET
from orqo_slack.testing import SECRET
from orqo_slack.testing import encode
from orqo_slack.testing import envelope
from orqo_slack.testing import message_event

from orqo.testing.conformance import AdapterConformance
from orqo.testing.conformance import Challenge
from orqo.testing.signers import slack_headers


class TestSlackConformance(AdapterConformance):
    plugin = orqo_slack
    platform = "slack"
    credentials = {"SLACK_SIGNING_SECRET": SECRET}
    other_credentials = {"SLACK_SIGNING_SECRET": OTHER_SECRET}
    config = {"timestamp_window": 300}
    signature_headers = ("X-Slack-Signature", "X-Slack-Request-Timestamp")
    timestamp_window = 300
    sender_id = "T0ACME123:U0ADA0001"

    def delivery(self, sender_id, message_id, text):
        team, user = sender_id.split(":")
        # A distinct, valid Slack ts for every message id.
        ts = f"1717171717.{zlib.crc32(message_id.encode()) % 1000000:06d}"
        event = message_event(text=text, ts=ts, user=user, team=team)
        return encode(envelope(event, event_id=f"Ev{message_id}", team_id=team))

    def sign(self, credentials, body, timestamp):
        return slack_headers(credentials["SLACK_SIGNING_SECRET"], body, timestamp)

    def challenge(self, credentials):
        challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
        body = json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "challenge": challenge,
                           "type": "url_verification"}).encode()
        headers = {**slack_headers(credentials["SLACK_SIGNING_SECRET"], body, time.time()),
                   "Content-Type": "application/json"}
        return Challenge(method="POST", body=body, headers=headers,
                         expected_body=challenge.encode())
