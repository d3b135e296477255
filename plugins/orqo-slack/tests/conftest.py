"""Fixtures for the Slack adapter's tests (the payloads are in :mod:`orqo_slack.testing`)."""
import orqo_slack
import pytest
from orqo_slack.testing import APP
from orqo_slack.testing import BOT_TOKEN
from orqo_slack.testing import BOT_USER
from orqo_slack.testing import SECRET
from orqo_slack.testing import SENDER
from orqo_slack.testing import signed

from orqo.testing import Harness
from orqo.testing.conformance import make_stage_request


class Direct:
    """The adapter called directly, with a validated config (no database involved)."""

    adapter = orqo_slack.SlackAdapter()

    def request(self, body, headers=None, config=None, credentials=None, received_at=None):
        credentials, config = self.adapter.validate_settings(
            credentials or {"SLACK_SIGNING_SECRET": SECRET}, config or {})
        return make_stage_request("A1", "slack", body, signed(body) if headers is None else
                                  headers, credentials, config, received_at=received_at)

    def verify(self, body, headers=None, **kwargs):
        return self.adapter.verify(self.request(body, headers, **kwargs))

    def parse(self, body, config=None, headers=None):
        request = self.request(body, headers, config=config)
        assert self.adapter.verify(request).accepted
        return self.adapter.parse(request)


@pytest.fixture
def direct():
    """The Slack adapter, called without orqo around it."""
    return Direct()


@pytest.fixture
def slack(make_app):
    """A Harness with a Slack App (``slack.app_id``) and Ada as its Contact."""
    harness = Harness(make_app(plugins=[orqo_slack]))
    harness.app_id = harness.add_app(
        "slack", {"SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": BOT_TOKEN},
        {"bot_user_id": BOT_USER, "app_id": APP})
    harness.contact_id = harness.add_contact({harness.app_id: SENDER})
    return harness
