"""The peer: slack_bolt's Flask adapter verifying the signed event and acknowledging it.

No network: ``authorize`` answers from memory (bolt would otherwise call ``auth.test``), and
``token_verification_enabled=False`` skips the start-up check. It stores nothing.
"""
import os

from flask import Flask
from flask import request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult


def _authorize(enterprise_id=None, team_id=None, user_id=None, **_):
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id,
                           bot_user_id="U0BOTORQO", bot_id="B0ORQOBOT",
                           bot_token="xoxb-bench-not-real")


bolt = App(signing_secret=os.environ["BENCH_SIGNING_SECRET"], authorize=_authorize,
           token_verification_enabled=False)


@bolt.event("message")
def on_message(ack):
    ack()


app = Flask(__name__)
handler = SlackRequestHandler(bolt)


@app.post("/api/v1/webhooks/<app_id>")
def receive(app_id):
    return handler.handle(request)
