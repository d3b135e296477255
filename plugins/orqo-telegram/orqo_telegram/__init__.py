"""orqo adapter for the Telegram Bot API (webhook mode).

Rules implemented, from the Bot API reference (core.telegram.org/bots/api, ``setWebhook`` and
``Update``):

* **Secret token, not a signature.** ``setWebhook(secret_token=...)`` makes Telegram send that
  exact value in the ``X-Telegram-Bot-Api-Secret-Token`` header of every update. The token is
  1-256 characters of ``A-Z a-z 0-9 _ -``. It carries no timestamp and does not cover the body,
  so it is compared in constant time (:func:`hmac.compare_digest`) and TLS does the rest. A
  missing, empty, wrong or repeated header is rejected with 401 (a repeated header may reach us
  joined as ``"a, b"``; a comma can never be part of a valid token).
* **Fail closed.** ORQO calls the secret optional. This adapter refuses to save an App without
  ``TELEGRAM_WEBHOOK_SECRET`` unless its config says ``allow_unsigned: true`` (for local
  development), so a forgotten secret cannot silently let anyone post updates. When a secret
  is configured it is always checked, whatever ``allow_unsigned`` says.
* **Dedupe on ``update_id`` by membership.** Ids normally increase by one, but after a week
  without updates the next one is random, so "greater than the last one" is wrong: the dedupe
  key is ``str(update_id)`` and orqo's per-App unique constraint does the rest.

What becomes a message, and how each field is filled, is in :mod:`orqo_telegram.updates`.

Agents' messages go out through ``sendMessage`` with ``TELEGRAM_BOT_TOKEN`` (the send stage,
:mod:`orqo_telegram.sending`), to the config's ``api_base_url`` (default
``https://api.telegram.org``; a local Bot API server or a test stand-in replaces it). orqo
leaves :attr:`TelegramAdapter.send_interval` (one second) between two sends to one chat, as
Telegram's Bot FAQ asks, and refuses texts over 4,096 characters, the most ``sendMessage``
takes. Inbound never uses the bot token.
"""
from __future__ import annotations

import hmac
import re

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from orqo import hookimpl
from orqo.adapters import Adapter
from orqo.adapters import SampleDeliveryError
from orqo.adapters import api_base_url
from orqo.adapters import load_json
from orqo.stages import Verdict
from orqo_telegram.sending import DEFAULT_API_BASE_URL
from orqo_telegram.sending import send_message
from orqo_telegram.updates import parse_update

__all__ = ["SECRET_HEADER", "TelegramAdapter", "TelegramConfig", "TelegramCredentials",
           "register_adapters"]

#: The header Telegram puts the setWebhook ``secret_token`` in.
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_KEY = "TELEGRAM_WEBHOOK_SECRET"

# \Z, not $: "$" would also accept a trailing newline.
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}\Z")
# "<bot id>:<secret part>", as BotFather hands it out.
BOT_TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{1,200}\Z")

SECRET_REQUIRED = (f"Required unless the config sets allow_unsigned to true: the secret_token "
                   f"given to setWebhook, which Telegram sends as {SECRET_HEADER}.")


class TelegramCredentials(Schema):
    """The App's secrets, under ORQO's names."""

    TELEGRAM_WEBHOOK_SECRET = fields.String(validate=validate.Regexp(
        SECRET_TOKEN, error="Must be 1 to 256 characters of A-Z, a-z, 0-9, _ and - "
                            "(what setWebhook accepts as secret_token)."), metadata={
        "description": "The secret_token given to setWebhook, sent back as "
                       "X-Telegram-Bot-Api-Secret-Token; required unless the config sets "
                       "allow_unsigned."})
    TELEGRAM_BOT_TOKEN = fields.String(validate=validate.Regexp(
        BOT_TOKEN, error="Must look like a bot token from BotFather: <bot id>:<token>."),
        metadata={"description": "The bot token from BotFather that agents' messages are "
                                 "sent with; without it the App cannot send."})


class TelegramConfig(Schema):
    """The App's non-secret settings."""

    #: Accept updates without a secret token when the App has no TELEGRAM_WEBHOOK_SECRET.
    allow_unsigned = fields.Boolean(load_default=False, metadata={
        "description": "Accept updates without a secret token when the App has no "
                       "TELEGRAM_WEBHOOK_SECRET (local development only)."})
    #: Where the Bot API is: a local Bot API server, or a stand-in in tests.
    api_base_url = api_base_url(DEFAULT_API_BASE_URL)


class TelegramAdapter(Adapter):
    """Telegram Bot API updates, checked by their secret token."""

    platform = "telegram"
    description = "Telegram Bot API webhooks (X-Telegram-Bot-Api-Secret-Token)"
    credentials_schema = TelegramCredentials
    config_schema = TelegramConfig
    # Bot FAQ: "avoid sending more than one message per second" in one chat.
    send_interval = 1.0
    # sendMessage: "1-4096 characters after entities parsing".
    max_text_length = 4096

    @classmethod
    def validate_settings(cls, credentials, config):
        """Validate as usual, and require the secret unless ``allow_unsigned`` is true.

        Every problem is reported at once: a missing secret is named next to any other
        credential or config error (when the config is itself invalid, whether the secret is
        required cannot be told, so only the config error is reported for it).
        """
        errors, loaded = {}, None
        try:
            loaded = super().validate_settings(credentials, config)
        except ValidationError as exc:
            errors = dict(exc.messages) if isinstance(exc.messages, dict) else {"_": exc.messages}
        try:
            allow_unsigned = TelegramConfig().load(config or {})["allow_unsigned"]
        except ValidationError:
            allow_unsigned = None
        if allow_unsigned is False and SECRET_KEY not in (credentials or {}):
            credential_errors = errors.get("credentials")
            if not isinstance(credential_errors, dict):
                credential_errors = {} if credential_errors is None else {"_": credential_errors}
            errors["credentials"] = {**credential_errors, SECRET_KEY: [SECRET_REQUIRED]}
        if errors:
            raise ValidationError(errors)
        return loaded

    @classmethod
    def sample_delivery(cls, credentials, config, sender_id, text, thread_id=None):
        """A private text message from the user ``sender_id`` (an integer id) as the Bot API
        posts it (:func:`orqo_telegram.testing.sample_delivery`), with the App's secret token.
        ``thread_id`` is ``<chat_id>:<message_id>`` of a message in that chat (one orqo sent,
        say): the sample replies to it, so its thread and ``reply_to`` are that message."""
        from orqo_telegram import testing

        if not re.fullmatch(r"[1-9][0-9]{0,15}", sender_id or ""):
            raise SampleDeliveryError("a Telegram sender id is the user's integer id, such as "
                                      "123456789")
        reply_to = None
        if thread_id is not None:
            chat, _, message_id = thread_id.partition(":")
            if chat != sender_id or not re.fullmatch(r"[1-9][0-9]{0,9}", message_id):
                raise SampleDeliveryError(
                    f"a Telegram thread of a private chat is <chat_id>:<message_id>, the chat "
                    f"id being the sender's: {sender_id}:<message_id>")
            reply_to = int(message_id)
        return testing.sample_delivery(credentials.get(SECRET_KEY), int(sender_id), text,
                                       reply_to_message_id=reply_to)

    def verify(self, request):
        """Compare ``X-Telegram-Bot-Api-Secret-Token`` with the App's secret in constant time."""
        secret = request.credentials.get(SECRET_KEY)
        if not secret:
            if request.config.get("allow_unsigned") is True:
                return Verdict.accept()
            return Verdict.reject(f"the App has no {SECRET_KEY} and does not allow unsigned "
                                  "deliveries")
        values = request.header_values(SECRET_HEADER)
        if not values or not values[0]:
            return Verdict.reject(f"missing {SECRET_HEADER} header")
        if len(values) > 1 or "," in values[0]:
            return Verdict.reject(f"{SECRET_HEADER} header sent more than once")
        given = values[0]
        # A format check on the sender's own value tells an attacker nothing about the secret.
        if not SECRET_TOKEN.match(given):
            return Verdict.reject(f"{SECRET_HEADER} is not a valid secret token")
        if not hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8")):
            return Verdict.reject(f"{SECRET_HEADER} does not match the App's secret")
        return Verdict.accept()

    def parse(self, request):
        """Normalise one Update (see :mod:`orqo_telegram.updates`)."""
        return parse_update(load_json(request.body), self.platform,
                            request.received_at)

    def send(self, request, http):
        """Send one message with ``sendMessage`` (see :mod:`orqo_telegram.sending`)."""
        return send_message(request, http)


@hookimpl
def register_adapters(register):
    """Provide the ``telegram`` adapter."""
    register(TelegramAdapter)
