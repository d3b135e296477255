"""Slack's request signature and replay window, checked against slack_sdk's SignatureVerifier."""
import json
import time

import pytest
from orqo_slack import sign
from orqo_slack.testing import OTHER_SECRET
from orqo_slack.testing import SECRET
from orqo_slack.testing import block_actions
from orqo_slack.testing import encode
from orqo_slack.testing import envelope
from orqo_slack.testing import form
from orqo_slack.testing import message_event
from orqo_slack.testing import signed
from slack_sdk.signature import Clock
from slack_sdk.signature import SignatureVerifier

from orqo.testing.signers import slack_headers

BODIES = {
    "dm": encode(envelope(message_event())),
    "escaped unicode": encode(envelope(message_event(text="Grüße aus Köln 🌧️ https://x.example/a")),
                              ascii_only=True),
    "block_actions form": form(block_actions()),
    "url_verification": json.dumps({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
                                    "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYX",
                                    "type": "url_verification"}).encode(),
}


class FixedClock(Clock):
    """slack_sdk's clock, stopped at the moment orqo received the request."""

    def __init__(self, now):
        self._now = now

    def now(self):
        return self._now


def sdk(now=None):
    return SignatureVerifier(SECRET, FixedClock(time.time() if now is None else now))


@pytest.mark.parametrize("name", sorted(BODIES))
def test_the_test_signer_makes_what_slack_sdk_accepts(name):
    body = BODIES[name]
    headers = slack_headers(SECRET, body)
    assert sdk().is_valid_request(body, headers)
    assert headers["X-Slack-Signature"] == sdk().generate_signature(
        timestamp=headers["X-Slack-Request-Timestamp"], body=body)
    assert sign(SECRET, headers["X-Slack-Request-Timestamp"], body) == headers["X-Slack-Signature"]


@pytest.mark.parametrize("name", sorted(BODIES))
def test_a_request_signed_by_slack_sdk_is_accepted(direct, name):
    body = BODIES[name]
    timestamp = str(int(time.time()))
    headers = {"X-Slack-Request-Timestamp": timestamp,
               "X-Slack-Signature": sdk().generate_signature(timestamp=timestamp, body=body)}
    assert direct.verify(body, headers).accepted


def variants(body: bytes, received_at: float):
    """Requests around ``body``: good, re-timed, re-signed and tampered ones."""
    good = slack_headers(SECRET, body, received_at)
    yield "good", body, good
    for offset in (-301, -300, -1, 0, 1, 299, 300, 301, 86400, -86400):
        yield f"offset {offset}", body, slack_headers(SECRET, body, received_at + offset)
    yield "other secret", body, slack_headers(OTHER_SECRET, body, received_at)
    yield "flipped byte", body[:-2] + bytes([body[-2] ^ 1]) + body[-1:], good
    yield "uppercase hex", body, {**good, "X-Slack-Signature": "v0=" + good[
        "X-Slack-Signature"][3:].upper()}
    yield "v1 prefix", body, {**good, "X-Slack-Signature": good["X-Slack-Signature"].replace(
        "v0=", "v1=")}
    yield "no prefix", body, {**good, "X-Slack-Signature": good["X-Slack-Signature"][3:]}
    yield "truncated", body, {**good, "X-Slack-Signature": good["X-Slack-Signature"][:-1]}
    yield "other timestamp", body, {**good, "X-Slack-Request-Timestamp": str(int(
        received_at) + 1)}
    padded = "0" + good["X-Slack-Request-Timestamp"]
    yield "leading zero", body, {"X-Slack-Request-Timestamp": padded,
                                 "X-Slack-Signature": sign(SECRET, padded, body)}
    if body.startswith(b"{"):
        compact = json.dumps(json.loads(body), separators=(",", ":")).encode()
        yield "re-serialised", compact, good
    else:
        yield "field appended", body + b"&x=1", good


@pytest.mark.parametrize("name", sorted(BODIES))
def test_what_the_adapter_accepts_slack_sdk_accepts(direct, name):
    received_at = float(int(time.time()))  # whole seconds: offset 300 is exactly 300
    verifier = sdk(received_at)
    outcomes = {}
    for label, body, headers in variants(BODIES[name], received_at):
        ours = direct.verify(body, headers, received_at=received_at).accepted
        theirs = verifier.is_valid_request(body, headers)
        assert ours == theirs, label
        outcomes[label] = ours
    assert {label for label, accepted in outcomes.items() if accepted} == {
        "good", "leading zero", "offset -300", "offset -1", "offset 0", "offset 1", "offset 299",
        "offset 300"}


@pytest.mark.parametrize("offset,reason", [
    (-301, "stale request"),
    (-3600 * 24 * 90, "stale request"),  # bolt-python#195: a clock months behind
    (301, "in the future"),
])
def test_timestamps_outside_the_window_are_rejected_saying_which_way(direct, offset, reason):
    body = BODIES["dm"]
    now = time.time()
    verdict = direct.verify(body, slack_headers(SECRET, body, now + offset), received_at=now)
    assert not verdict.accepted
    assert reason in verdict.reason
    assert verdict.status == 401


def test_the_window_is_configurable(direct):
    body = BODIES["dm"]
    now = time.time()
    config = {"timestamp_window": 60}
    assert direct.verify(body, slack_headers(SECRET, body, now - 59), config=config,
                         received_at=now).accepted
    assert "stale" in direct.verify(body, slack_headers(SECRET, body, now - 61), config=config,
                                    received_at=now).reason
    assert "future" in direct.verify(body, slack_headers(SECRET, body, now + 61), config=config,
                                     received_at=now).reason


@pytest.mark.parametrize("timestamp", ["", " ", "1717171717.5", "-1717171717", "+1717171717",
                                       "1_717_171_717", "١٧١٧١٧١٧١٧", "soon", "1e9"])
def test_timestamps_that_are_not_integer_seconds_are_rejected(direct, timestamp):
    body = BODIES["dm"]
    headers = {**signed(body), "X-Slack-Request-Timestamp": timestamp}
    verdict = direct.verify(body, headers)
    assert not verdict.accepted
    assert "X-Slack-Request-Timestamp" in verdict.reason


@pytest.mark.parametrize("change,reason", [
    (lambda h: {k: v for k, v in h.items() if k != "X-Slack-Signature"},
     "missing X-Slack-Signature"),
    (lambda h: {k: v for k, v in h.items() if k != "X-Slack-Request-Timestamp"},
     "missing X-Slack-Request-Timestamp"),
    (lambda h: {}, "missing X-Slack-Signature"),
    (lambda h: {**h, "X-Slack-Signature": ""}, "empty X-Slack-Signature"),
    (lambda h: {**h, "X-Slack-Signature": "sha256=" + h["X-Slack-Signature"][3:]}, "not a v0="),
    (lambda h: {**h, "X-Slack-Signature": "v0=" + "0" * 64}, "does not match"),
    (lambda h: list(h.items()) + [("x-slack-signature", "v0=" + "0" * 64)], "more than once"),
    (lambda h: list(h.items()) + [("X-SLACK-REQUEST-TIMESTAMP", h["X-Slack-Request-Timestamp"])],
     "more than once"),
])
def test_signature_headers_are_checked_with_a_reason(direct, change, reason):
    body = BODIES["dm"]
    request = direct.request(body, {})
    headers = change(signed(body))
    request.headers = [list(pair) for pair in (headers.items() if isinstance(headers, dict)
                                               else headers)]
    verdict = direct.adapter.verify(request)
    assert not verdict.accepted
    assert reason in verdict.reason
    assert SECRET not in verdict.reason and "prüfen" not in verdict.reason


def test_a_secret_is_used_as_utf8_text(direct):
    secret = "geheimnis-ä-🔑"
    body = BODIES["dm"]
    credentials = {"SLACK_SIGNING_SECRET": secret}
    assert direct.verify(body, slack_headers(secret, body), credentials=credentials).accepted
    assert SignatureVerifier(secret).is_valid_request(body, slack_headers(secret, body))


def test_forged_and_replayed_deliveries_are_rejected_through_the_pipeline(slack):
    body = BODIES["dm"]
    forged = slack.deliver(slack.app_id, body, slack_headers(OTHER_SECRET, body))
    replayed = slack.deliver(slack.app_id, body, slack_headers(SECRET, body, time.time() - 3600))
    assert (forged.status_code, replayed.status_code) == (401, 401)
    assert forged.json["error"]["code"] == "rejected_signature"
    assert "stale" in replayed.json["error"]["message"]
    assert [entry["outcome"] for entry in slack.ledger()] == ["rejected_signature"] * 2
    assert all(entry["messages"] == [] for entry in slack.ledger())


def test_orqo_sends_sample_is_signed_as_slack_signs():
    """``orqo send``'s Slack delivery passes slack_sdk's own verifier, and orqo's."""
    from orqo_slack import SlackAdapter

    body, headers = SlackAdapter.sample_delivery({"SLACK_SIGNING_SECRET": SECRET}, {},
                                                 "T0ACME123:U0ADA0001", "Grüße 👋")
    assert SignatureVerifier(SECRET).is_valid_request(body, headers)
    assert not SignatureVerifier(OTHER_SECRET).is_valid_request(body, headers)
    event = json.loads(body)["event"]
    assert (event["team"], event["user"], event["text"]) == ("T0ACME123", "U0ADA0001",
                                                             "Grüße 👋")
