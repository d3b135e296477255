"""orqo adapter for the WhatsApp Cloud API (Meta webhooks).

Rules implemented, from Meta's Graph API webhooks guide
(developers.facebook.com/docs/graph-api/webhooks/getting-started) and the WhatsApp Cloud API
webhooks reference (developers.facebook.com/docs/whatsapp/cloud-api/webhooks):

* **GET handshake, exempt from the body signature.** When a callback URL is registered, Meta
  sends ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`` with no body and no
  signature. The verify stage checks ``hub.mode`` is ``subscribe`` and compares
  ``hub.verify_token`` with ``WHATSAPP_VERIFY_TOKEN`` in constant time; a wrong, missing or
  repeated token, or any other ``hub.mode``, is refused with 403 (the status Meta's own sample
  answers; a mode other than ``subscribe`` is a handshake we do not take part in, not a body
  we cannot read, hence 403 and not 400). The parse stage then echoes ``hub.challenge`` as
  ``text/plain`` with 200. Only GET is exempt: a POST is always checked by its signature, even
  when it carries ``hub.*`` query parameters.
* **POST signature over the raw bytes.** ``X-Hub-Signature-256: sha256=<hex>`` is the
  HMAC-SHA256 of the body exactly as received, keyed by the App Secret
  (``WHATSAPP_APP_SECRET``). Never of re-serialised JSON: Meta hashes the bytes it sent, and
  re-encoding non-ASCII text or characters such as ``@`` changes them
  (tawn33y/whatsapp-cloud-api#60). A missing, empty, repeated or malformed header (anything
  but ``sha256=`` and 64 hex digits) is refused with 401; the hex digits are compared
  case-insensitively (Meta sends lower case). The legacy SHA-1 ``X-Hub-Signature`` is never
  accepted on its own. The scheme has no timestamp, hence no replay window: redeliveries are
  caught by dedupe on the message id.
* **Payloads up to 3 MB** (Meta's Cloud API webhooks page): nothing here limits the size;
  orqo's own body limit (4 MiB by default) must stay above it.

What becomes a message, and how each field is filled, is in :mod:`orqo_whatsapp.notifications`.
Agents' messages are sent through the Cloud API by :mod:`orqo_whatsapp.sending`, with
``WHATSAPP_ACCESS_TOKEN`` and ``WHATSAPP_PHONE_NUMBER_ID``; inbound never uses them.
"""
from __future__ import annotations

import hashlib
import hmac
import re

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
from orqo.stages import Verdict
from orqo_whatsapp import sending
from orqo_whatsapp.notifications import parse_notification

__all__ = ["SIGNATURE_HEADER", "WhatsAppAdapter", "WhatsAppConfig", "WhatsAppCredentials",
           "register_adapters", "sign"]

#: The header Meta puts the body's HMAC-SHA256 in.
SIGNATURE_HEADER = "X-Hub-Signature-256"
APP_SECRET_KEY = "WHATSAPP_APP_SECRET"
VERIFY_TOKEN_KEY = "WHATSAPP_VERIFY_TOKEN"

# \Z, not $: "$" would also accept a trailing newline.
SIGNATURE = re.compile(r"sha256=([0-9A-Fa-f]{64})\Z")
# Meta sends an integer; anything longer than this is not a challenge Meta made.
MAX_CHALLENGE = 1024


class WhatsAppCredentials(Schema):
    """The App's secrets, under ORQO's names."""

    WHATSAPP_APP_SECRET = hmac_secret(metadata={
        "description": "The Meta app's App Secret (App settings, Basic): checks "
                       "X-Hub-Signature-256."})
    WHATSAPP_VERIFY_TOKEN = fields.String(required=True, validate=validate.Length(min=1),
                                          metadata={"description": "The Verify token typed "
                                                    "into the webhook's setup: answers the GET "
                                                    "handshake."})
    WHATSAPP_ACCESS_TOKEN = fields.String(validate=validate.Length(min=1), metadata={
        "description": "A system user's access token that agents' messages are sent with; "
                       "without it the App cannot send."})
    WHATSAPP_PHONE_NUMBER_ID = fields.String(validate=validate.Regexp(
        r"[0-9]{1,32}\Z", error="Must be the numeric phone number ID from the App Dashboard."),
        metadata={"description": "The business number's Phone number ID (API Setup) that "
                                 "messages are sent from."})


class WhatsAppConfig(Schema):
    """The App's non-secret settings."""

    #: Route emoji reactions as messages (text = the emoji); off: they are ignored.
    route_reactions = fields.Boolean(load_default=False, metadata={
        "description": "Route emoji reactions as messages (the text is the emoji); off: "
                       "they are ignored."})
    #: Where the Graph API is: a local stand-in for tests and staging.
    api_base_url = api_base_url(sending.DEFAULT_API_BASE_URL)
    #: The Graph API version messages are sent with.
    api_version = fields.String(load_default=sending.DEFAULT_API_VERSION,
                                validate=sending.API_VERSION, metadata={
                                    "description": "The Graph API version messages are sent "
                                                   "with."})
    #: The approved template sent instead when the 24-hour window has closed (error 131047);
    #: ``None``: such a message fails.
    window_template = sending.TemplateField(
        sending.WindowTemplate, load_default=None, allow_none=True, metadata={
            "description": "The approved template ({name, language}) sent instead when the "
                           "24-hour window has closed; null: such a message fails."})


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends with ``body``: ``sha256=<lower-case hex>``."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WhatsAppAdapter(Adapter):
    """WhatsApp Cloud API: the GET handshake and signed POST notifications in, text messages
    (or the window template) out."""

    platform = "whatsapp"
    description = ("WhatsApp Cloud API webhooks (X-Hub-Signature-256, hub.challenge handshake) "
                   "and replies through /<phone-number-id>/messages")
    credentials_schema = WhatsAppCredentials
    config_schema = WhatsAppConfig
    max_text_length = sending.MAX_TEXT_LENGTH
    # Meta paces per recipient with error 131056 (retried after its wait), not per chat.
    send_interval = 0.0

    def verify(self, request):
        """Check the GET handshake's verify token, or a POST's body signature."""
        if request.method == "GET":
            return self._verify_handshake(request)
        return self._verify_signature(request)

    def _verify_handshake(self, request):
        if request.query_value("hub.mode") != "subscribe":
            return Verdict.reject("a GET must be a webhook handshake with hub.mode=subscribe",
                                  status=403)
        given = request.query_value("hub.verify_token")
        if not given:
            return Verdict.reject("missing or repeated hub.verify_token", status=403)
        expected = request.credentials.get(VERIFY_TOKEN_KEY) or ""
        if not expected or not hmac.compare_digest(given.encode("utf-8"),
                                                   expected.encode("utf-8")):
            return Verdict.reject("hub.verify_token does not match the App's verify token",
                                  status=403)
        return Verdict.accept()

    def _verify_signature(self, request):
        values = request.header_values(SIGNATURE_HEADER)
        if not values or not values[0].strip():
            return Verdict.reject(f"missing {SIGNATURE_HEADER} header")
        # A repeated header may also reach us joined into one value, "a, b".
        if len(values) > 1 or "," in values[0]:
            return Verdict.reject(f"{SIGNATURE_HEADER} header sent more than once")
        match = SIGNATURE.match(values[0].strip())
        if match is None:
            return Verdict.reject(f"{SIGNATURE_HEADER} is not sha256=<64 hex digits>")
        secret = request.credentials.get(APP_SECRET_KEY) or ""
        if not secret:
            return Verdict.reject(f"the App has no {APP_SECRET_KEY}")
        expected = hmac.new(secret.encode("utf-8"), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(match.group(1).lower().encode("ascii"),
                                   expected.encode("ascii")):
            return Verdict.reject(f"{SIGNATURE_HEADER} does not match the body")
        return Verdict.accept()

    def parse(self, request):
        """Answer the handshake's challenge, or normalise a notification's messages."""
        if request.method == "GET":
            challenge = request.query_value("hub.challenge")
            if not challenge:
                raise MalformedDelivery("the handshake has no (or a repeated) hub.challenge")
            if len(challenge) > MAX_CHALLENGE:
                raise MalformedDelivery(
                    f"hub.challenge is longer than {MAX_CHALLENGE} characters")
            return ParseResult(challenge=ChallengeResponse(challenge))
        return parse_notification(load_json(request.body), self.platform, request.config,
                                  request.received_at)

    @classmethod
    def sample_delivery(cls, credentials, config, sender_id, text, thread_id=None):
        """A text message from ``sender_id`` (a wa_id: digits) as Meta posts it
        (:func:`orqo_whatsapp.testing.sample_delivery`), signed with ``WHATSAPP_APP_SECRET``.
        WhatsApp has no threads: ``thread_id`` is the wamid of the message it quotes, its
        ``reply_to``."""
        from orqo_whatsapp import testing

        if not re.fullmatch(r"[0-9]{1,32}", sender_id or ""):
            raise SampleDeliveryError("a WhatsApp sender id is a wa_id: the phone number's "
                                      "digits, such as 4915112345678")
        return testing.sample_delivery(credentials[APP_SECRET_KEY], sender_id, text,
                                       reply_to=thread_id,
                                       phone_number_id=credentials.get("WHATSAPP_PHONE_NUMBER_ID"))

    def send(self, request, http):
        """Send an agent's message through the Cloud API (see :mod:`orqo_whatsapp.sending`)."""
        return sending.send_message(request, http)


@hookimpl
def register_adapters(register):
    """Provide the ``whatsapp`` adapter."""
    register(WhatsAppAdapter)
