"""A tiny adapter for core tests: a shared-token header and a JSON list of messages.

Body: ``{"messages": [{"sender": "...", "id": "...", "text": "...", "thread": ..., "chat": ...}]}``,
or ``{"challenge": "..."}``, or ``{"crash": true}`` (the adapter raises), or
``{"bad_result": true}`` (the adapter returns a message the schema refuses).
"""
import hmac
import json

from marshmallow import Schema
from marshmallow import fields

from orqo import hookimpl
from orqo.adapters import Adapter
from orqo.adapters import api_base_url
from orqo.errors import MalformedDelivery
from orqo.messages import Message
from orqo.stages import ChallengeResponse
from orqo.stages import ParseResult
from orqo.stages import SendResult
from orqo.stages import Verdict

TOKEN_HEADER = "X-Fake-Token"


class FakeCredentials(Schema):
    token = fields.String(required=True)


class FakeConfig(Schema):
    # A closed port on loopback: a test that sends mocks it (requests-mock) or sets its own.
    api_base_url = api_base_url("http://127.0.0.1:9")


class FakeAdapter(Adapter):
    platform = "fake"
    description = "test adapter"
    credentials_schema = FakeCredentials
    config_schema = FakeConfig
    send_interval = 1.0

    def send(self, request, http):
        replied = request.in_reply_to or {}
        answer = http.post(request.config["api_base_url"].rstrip("/") + "/send", json_body={
            "to": request.recipient, "chat": request.chat_id, "text": request.text,
            "reply_to": replied.get("platform_message_id"), "orqo_id": request.message_id})
        document = answer.json() if isinstance(answer.json(), dict) else {}
        if answer.status_code == 200 and document.get("ok") and document.get("id"):
            return SendResult.sent(document["id"], chat_id=request.chat_id or request.recipient)
        if answer.status_code == 429 or answer.status_code >= 500:
            return SendResult.retry(answer.excerpt(), after=answer.retry_after())
        return SendResult.failed(str(document.get("error") or answer.excerpt()))

    def verify(self, request):
        given = request.header(TOKEN_HEADER)
        if given is None:
            return Verdict.reject(f"missing {TOKEN_HEADER}")
        if not hmac.compare_digest(given.encode(), request.credentials["token"].encode()):
            return Verdict.reject(f"{TOKEN_HEADER} is wrong")
        return Verdict.accept()

    def parse(self, request):
        try:
            document = json.loads(request.body)
        except (ValueError, RecursionError):
            raise MalformedDelivery("not JSON") from None
        if document.get("crash"):
            raise RuntimeError("the fake adapter crashed")
        if document.get("not_a_result"):
            return {"messages": []}
        if "challenge" in document:
            return ParseResult(challenge=ChallengeResponse(body=document["challenge"]))
        messages = [
            Message(
                platform="fake",
                sender_id=item["sender"],
                text="" if document.get("bad_result") else item.get("text", ""),
                chat_id=item.get("chat", item["sender"]),
                thread_id=item.get("thread"),
                reply_to=item.get("reply_to"),
                sender_name=item.get("name"),
                platform_message_id=item["id"],
                dedupe_key=item["id"] if not document.get("bad_result") else "",
                sent_at=request.received_at,
            )
            for item in document.get("messages", [])
        ]
        return ParseResult(messages=messages, reason=document.get("reason", ""))


@hookimpl
def register_adapters(register):
    register(FakeAdapter)


def delivery(*messages, **extra) -> bytes:
    """A fake delivery body carrying ``messages`` (dicts with sender, id, text...)."""
    return json.dumps({"messages": list(messages), **extra}).encode()
