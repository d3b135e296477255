"""orqo adapter for Slack: Events API and interactivity deliveries over HTTP.

Rules implemented, from Slack's documentation:

* **Signature** (api.slack.com/authentication/verifying-requests-from-slack):
  ``X-Slack-Signature`` is ``v0=`` + the hex HMAC-SHA256 of ``v0:<X-Slack-Request-Timestamp>:
  <raw body>``, keyed by the App's signing secret (``SLACK_SIGNING_SECRET``, used as UTF-8
  text). It is computed on the raw bytes, before any JSON or form parsing, and compared with
  :func:`hmac.compare_digest`. A missing, empty or repeated header, a value without ``v0=``, or
  a timestamp that is not integer Unix seconds is rejected (401).
* **Replay window**: a timestamp more than ``timestamp_window`` seconds (300 by default, as in
  Slack's doc and ``slack_sdk``'s ``SignatureVerifier``) before or after the moment orqo
  received the request is rejected, as "stale" or "in the future".
* **URL verification** (api.slack.com/apis/events-api#handshake): a signed JSON body
  ``{"type": "url_verification", "challenge": ...}`` is answered 200 with the challenge as
  ``text/plain``, and nothing else happens.
* **ssl_check** (api.slack.com/interactivity/slash-commands): Slack checks the certificate by
  posting the form ``ssl_check=1&token=...`` *without* signature headers. Such a request is
  accepted only when it carries no signature headers and its body is exactly that form (only
  the fields ``ssl_check=1`` and ``token``), so nothing can ride along with it (the hole of
  bolt-js#2897 and bolt-python#1494). It is answered 200 and routes nothing.
* **Retries** (api.slack.com/apis/events-api#retries): Slack retries up to three times when it
  gets no 2xx within 3 seconds, with ``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason``. They
  are recorded in the delivery's ledger meta (``slack_retry_num``, ``slack_retry_reason``); a
  retry of a stored message has the same dedupe key and is recorded ``duplicate`` by orqo.
* ``app_rate_limited`` envelopes (over 30,000 events an hour) are recorded with that reason;
  slash-command forms and unknown envelope types are recorded as ignored, not refused, so a
  misrouted but genuine Slack request never counts towards Slack's auto-disable.
* Anything Slack could not have sent (not UTF-8, neither JSON nor a form, a form without
  ``payload``/``ssl_check``, a JSON body that is not an object or has no ``type``, an
  ``event_callback`` without ``event`` or ``event_id``, fields of the wrong type) raises
  :class:`orqo.errors.MalformedDelivery` (400, recorded ``malformed``).

What becomes a message: :mod:`orqo_slack.events` (``event_callback``) and
:mod:`orqo_slack.interactivity` (``block_actions``). Slack's legacy verification ``token`` in
bodies is ignored.

Sending (:mod:`orqo_slack.sending`): an agent's message goes out through ``chat.postMessage``
at ``api_base_url`` with ``SLACK_BOT_TOKEN`` (inbound never uses the token), in the thread of
the message it answers; orqo's worker leaves ``send_interval`` (1 s) between two messages to
one channel, Slack's pace for that method, and texts over 40,000 characters are refused (Slack
would cut them). A message sent in a thread and a person's answer in it meet on the thread's
root ``ts``: the send's ``reply_key`` and the answer's ``reply_to``.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import parse_qs

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from orqo import hookimpl
from orqo.adapters import Adapter
from orqo.adapters import SampleDeliveryError
from orqo.adapters import api_base_url
from orqo.adapters import hmac_secret
from orqo.adapters import load_json
from orqo.errors import MalformedDelivery
from orqo.stages import ChallengeResponse
from orqo.stages import ParseResult
from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo.stages import StageRequest
from orqo.stages import Verdict
from orqo_slack.events import parse_event_callback
from orqo_slack.interactivity import parse_interaction
from orqo_slack.readers import ignored
from orqo_slack.readers import shown
from orqo_slack.sending import DEFAULT_API_BASE_URL
from orqo_slack.sending import MAX_TEXT_LENGTH
from orqo_slack.sending import send_message

__all__ = ["SIGNATURE_HEADER", "TIMESTAMP_HEADER", "SlackAdapter", "SlackConfig",
           "SlackCredentials", "register_adapters", "sign"]

SIGNATURE_HEADER = "X-Slack-Signature"
TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
RETRY_NUM_HEADER = "X-Slack-Retry-Num"
RETRY_REASON_HEADER = "X-Slack-Retry-Reason"
SIGNING_SECRET = "SLACK_SIGNING_SECRET"

# ASCII digits only: int() would also take "+1", " 1", "1_0" and other scripts' digits.
UNIX_SECONDS = re.compile(r"[0-9]{1,15}\Z")
RETRY_REASON = re.compile(r"[a-z_]{1,64}\Z")
SLACK_ID = validate.Regexp(r"[A-Z][A-Z0-9]{1,63}\Z", error="Must be a Slack id such as U0123ABCD.")
NO_WHITESPACE = validate.Regexp(
    r"\S{1,512}\Z", error="Must be 1 to 512 characters without spaces or line breaks "
                          "(a pasted or @file value with a trailing newline never verifies).")


class SlackCredentials(Schema):
    """The App's secrets, under ORQO's names."""

    SLACK_SIGNING_SECRET = hmac_secret(NO_WHITESPACE, metadata={
        "description": "The Slack app's Signing Secret (Basic Information, App Credentials): "
                       "checks X-Slack-Signature."})
    SLACK_BOT_TOKEN = fields.String(validate=NO_WHITESPACE, metadata={
        "description": "The Bot User OAuth Token (xoxb-..., OAuth & Permissions) that "
                       "agents' messages are sent with; without it the App cannot send."})


class SlackConfig(Schema):
    """The App's non-secret settings."""

    #: Seconds X-Slack-Request-Timestamp may be off from receipt, either way.
    timestamp_window = fields.Integer(load_default=300, validate=validate.Range(min=1, max=3600),
                                      metadata={"description": "Seconds X-Slack-Request-"
                                                "Timestamp may be off from receipt, either "
                                                "way; older requests are refused as replays."})
    #: The App's bot user id and app id: messages from them are the App's own, never routed.
    bot_user_id = fields.String(load_default=None, allow_none=True, validate=SLACK_ID, metadata={
        "description": "The App's bot user id (U...): its own messages are never routed."})
    app_id = fields.String(load_default=None, allow_none=True, validate=SLACK_ID, metadata={
        "description": "The Slack app's id (A...): messages posted by it are never routed."})
    #: Where the Web API is (tests and staging point it at a local stand-in).
    api_base_url = api_base_url(DEFAULT_API_BASE_URL)


def sign(signing_secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` Slack sends with ``body`` at ``timestamp``."""
    basestring = b"v0:" + timestamp.encode("ascii") + b":" + body
    return "v0=" + hmac.new(signing_secret.encode("utf-8"), basestring, hashlib.sha256).hexdigest()


def is_ssl_check(body: bytes) -> bool:
    """Whether ``body`` is exactly Slack's unsigned ``ssl_check=1&token=...`` ping."""
    try:
        form = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=True,
                        max_num_fields=2)
    except (UnicodeDecodeError, ValueError):
        return False
    return (set(form) <= {"ssl_check", "token"} and form.get("ssl_check") == ["1"]
            and len(form.get("token", [""])) == 1)


def retry_meta(request: StageRequest) -> dict:
    """Slack's retry headers, for the ledger (only values Slack could have sent)."""
    meta = {}
    number = request.header(RETRY_NUM_HEADER)
    if number is not None and UNIX_SECONDS.match(number) and len(number) <= 3:
        meta["slack_retry_num"] = int(number)
    reason = request.header(RETRY_REASON_HEADER)
    if reason is not None and RETRY_REASON.match(reason):
        meta["slack_retry_reason"] = reason
    return meta


def read_body(body: bytes) -> tuple[str, dict]:
    """``("json", object)`` or ``("form", fields)``; MalformedDelivery for anything else."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedDelivery("the body is not UTF-8 text") from None
    if not text.strip():
        raise MalformedDelivery("the body is empty")
    if text.lstrip().startswith(("{", "[", '"')):
        return "json", _json_object(text, "the body")
    try:
        form = parse_qs(text, keep_blank_values=True, strict_parsing=True, max_num_fields=50)
    except ValueError:
        raise MalformedDelivery("the body is neither JSON nor a form") from None
    return "form", form


def _json_object(text: str, what: str) -> dict:
    document = load_json(text, what)
    if not isinstance(document, dict):
        raise MalformedDelivery(f"{what} must be a JSON object")
    return document


class SlackAdapter(Adapter):
    """Slack Events API and interactivity, signed with the App's signing secret."""

    platform = "slack"
    description = "Slack Events API and interactivity (X-Slack-Signature v0, url_verification)"
    credentials_schema = SlackCredentials
    config_schema = SlackConfig
    # A forged or unreadable request will not improve on a retry (api.slack.com/apis/events-api:
    # x-slack-no-retry on a non-200 stops re-delivery of that event).
    error_headers = {"X-Slack-No-Retry": "1"}
    # chat.postMessage: "one message per second per channel" (api.slack.com/apis/rate-limits).
    send_interval = 1.0
    max_text_length = MAX_TEXT_LENGTH

    def verify(self, request: StageRequest) -> Verdict:
        """Check ``X-Slack-Signature`` and the timestamp window (see the module docstring)."""
        secret = request.credentials.get(SIGNING_SECRET)
        if not secret:
            return Verdict.reject(f"the App has no {SIGNING_SECRET}")
        signatures = request.header_values(SIGNATURE_HEADER)
        timestamps = request.header_values(TIMESTAMP_HEADER)
        if not signatures and not timestamps and is_ssl_check(request.body):
            return Verdict.accept_unsigned("ssl_check")
        for name, values in ((SIGNATURE_HEADER, signatures), (TIMESTAMP_HEADER, timestamps)):
            if not values:
                return Verdict.reject(f"missing {name} header")
            if len(values) > 1:
                return Verdict.reject(f"{name} header sent more than once")
            if not values[0].strip():
                return Verdict.reject(f"empty {name} header")
        signature, timestamp = signatures[0], timestamps[0]
        if not UNIX_SECONDS.match(timestamp):
            return Verdict.reject(f"{TIMESTAMP_HEADER} is not an integer number of Unix seconds")
        window = request.config.get("timestamp_window") or 300
        skew = int(timestamp) - request.received_at
        if skew < -window:
            return Verdict.reject(f"stale request: {TIMESTAMP_HEADER} is more than {window} s "
                                  "before the time it was received (a replay?)")
        if skew > window:
            return Verdict.reject(f"{TIMESTAMP_HEADER} is more than {window} s in the future "
                                  "(check the server's clock)")
        if not signature.startswith("v0="):
            return Verdict.reject(f"{SIGNATURE_HEADER} is not a v0= signature")
        expected = sign(secret, timestamp, request.body)
        if not hmac.compare_digest(signature.encode("utf-8"), expected.encode("ascii")):
            return Verdict.reject(f"{SIGNATURE_HEADER} does not match the request")
        return Verdict.accept()

    def parse(self, request: StageRequest) -> ParseResult:
        """Answer the handshake, or turn the delivery into messages (or a reason for none)."""
        result = self._parse_body(request)
        result.meta = {**result.meta, **retry_meta(request)}
        return result

    def _parse_body(self, request: StageRequest) -> ParseResult:
        shape, document = read_body(request.body)
        if shape == "form":
            if "payload" in document:
                if len(document["payload"]) != 1:
                    raise MalformedDelivery("the form has more than one payload field")
                payload = _json_object(document["payload"][0], "the payload field")
                return parse_interaction(payload, self.platform)
            if document.get("ssl_check") == ["1"]:
                return ignored("ssl_check")
            if "command" in document:
                return ignored(f"slash command {shown(document['command'][0])} is not routed")
            raise MalformedDelivery("the form has neither a payload nor ssl_check=1 field")
        kind = document.get("type")
        if not isinstance(kind, str) or not kind:
            raise MalformedDelivery("the JSON body has no type")
        if kind == "url_verification":
            challenge = document.get("challenge")
            if not isinstance(challenge, str) or not challenge:
                raise MalformedDelivery("the url_verification body has no challenge")
            return ParseResult(challenge=ChallengeResponse(body=challenge))
        if kind == "event_callback":
            return parse_event_callback(document, request.config, self.platform)
        if kind == "app_rate_limited":
            minute = document.get("minute_rate_limited")
            return ignored("app_rate_limited: Slack is dropping this workspace's events "
                           "(over 30,000 an hour)",
                           **({"slack_minute_rate_limited": minute}
                              if isinstance(minute, int) and not isinstance(minute, bool)
                              else {}))
        return ignored(f"envelope type {shown(kind)} is not routed")

    @classmethod
    def sample_delivery(cls, credentials, config, sender_id, text, thread_id=None):
        """A person's DM as Slack's Events API posts it (:func:`orqo_slack.testing.
        sample_delivery`), signed with ``SLACK_SIGNING_SECRET``; ``thread_id`` is the thread's
        root ``ts``. The sender must not be the App's ``bot_user_id``: its messages are
        ignored."""
        from orqo_slack import testing

        if thread_id is not None and not re.fullmatch(r"[0-9]{1,15}\.[0-9]{1,9}", thread_id):
            raise SampleDeliveryError("a Slack thread is its root message's ts, such as "
                                      "1717171717.000200")
        try:
            return testing.sample_delivery(credentials[SIGNING_SECRET], sender_id, text,
                                           thread_ts=thread_id)
        except ValueError as exc:
            raise SampleDeliveryError(str(exc)) from None

    def send(self, request: SendRequest, http) -> SendResult:
        """Post one message with ``chat.postMessage`` (see :mod:`orqo_slack.sending`)."""
        return send_message(request, http)


@hookimpl
def register_adapters(register):
    """Provide the ``slack`` adapter."""
    register(SlackAdapter)
