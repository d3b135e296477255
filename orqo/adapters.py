"""The base class every platform adapter subclasses.

An adapter handles one platform's channel logic: it checks that a delivery is genuine
(:meth:`Adapter.verify`), turns its payload into normalised messages (:meth:`Adapter.parse`)
and, when the platform can be answered, sends an agent's message through the platform's API
(:meth:`Adapter.send`).
Adapters are stateless: everything an App holds (credentials, config) arrives in the
:class:`orqo.stages.StageRequest` of every call, so one instance serves every App of its
platform and the same adapter can run in-process or behind ORQO's HTTP adapter contract.

A plugin provides adapters through the ``register_adapters`` hook::

    from orqo import hookimpl
    from orqo.adapters import Adapter

    class EchoAdapter(Adapter):
        platform = "echo"
        ...

    @hookimpl
    def register_adapters(register):
        register(EchoAdapter)
"""
from __future__ import annotations

import abc
import re
from urllib.parse import urlsplit

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import missing
from marshmallow import validate

from orqo.bodies import InvalidJson
from orqo.bodies import decode_json
from orqo.errors import MalformedDelivery
from orqo.errors import OrqoError
from orqo.stages import ParseResult
from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo.stages import StageRequest
from orqo.stages import Verdict

PLATFORM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")

#: The shortest HMAC signing secret an App may hold, in bytes of UTF-8. A short secret can be
#: found by brute force from one signed delivery; platforms hand out 32 characters or more.
MIN_HMAC_SECRET_BYTES = 16


class HmacSecretLength(validate.Validator):
    """Refuse an HMAC signing secret shorter than :data:`MIN_HMAC_SECRET_BYTES` bytes (UTF-8).

    The message never quotes the secret or its length.
    """

    error = (f"An HMAC signing secret must be at least {MIN_HMAC_SECRET_BYTES} bytes long: a "
             "shorter one can be guessed from a single signed delivery. Use the secret the "
             "platform generated, or a random one (for example `openssl rand -hex 32`).")

    def __call__(self, value: str) -> str:
        if len(value.encode("utf-8", "surrogatepass")) < MIN_HMAC_SECRET_BYTES:
            raise ValidationError(self.error)
        return value


def hmac_secret(*validators, **field_options) -> fields.String:
    """A credentials-schema field for an HMAC signing secret: a string of at least
    :data:`MIN_HMAC_SECRET_BYTES` bytes, plus any further ``validators`` of the adapter's
    own. ``required`` defaults to true; other ``field_options`` go to the field. Every
    adapter that signs with HMAC declares its secret with this, so the rule is the same
    everywhere::

        class Credentials(Schema):
            signing_secret = hmac_secret()
    """
    field_options.setdefault("required", True)
    return fields.String(validate=[HmacSecretLength(), *validators], **field_options)


class BaseUrl(validate.Validator):
    """An ``http(s)://host[:port][/path]`` URL without user, query or fragment."""

    error = ("Must be an http or https URL without a user, query or fragment, such as "
             "https://api.example.com or http://127.0.0.1:8081 for a local stand-in.")

    def __call__(self, value: str) -> str:
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            raise ValidationError(self.error) from None
        if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query
                or parts.fragment or parts.username is not None or parts.password is not None):
            raise ValidationError(self.error)
        return value


def api_base_url(default: str) -> fields.String:
    """A config field for the platform API's base URL, ``default`` the real one: tests and
    staging point it at a local stand-in (adapters strip a trailing slash). Every adapter that
    sends declares it as ``api_base_url``, so that :meth:`Adapter.credentials_destination`
    knows where the credentials go."""
    return fields.String(load_default=default, validate=[validate.Length(max=2000), BaseUrl()],
                         metadata={"description": "Where the platform's API is (messages are "
                                                  "sent there); tests and staging point it at "
                                                  "a local stand-in."})


def url_origin(url) -> str | None:
    """``scheme://host:port`` of ``url`` (lower case, the port explicit), the URL's text when
    it cannot be parsed, None without a URL."""
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").rstrip(".")
    if not host or port is None:
        return url.strip()
    return f"{parts.scheme.lower()}://{'[' + host + ']' if ':' in host else host}:{port}"


def load_json(body: bytes | str, what: str = "the body"):
    """``body`` decoded as JSON, or :class:`~orqo.errors.MalformedDelivery` saying why it is
    not (a syntax error and where, not UTF-8, nested too deeply, an integer too long), never
    quoting it. Every adapter reads JSON with this, so that no odd body escapes as an
    exception (an ``adapter_error``, 503, retried forever)."""
    try:
        return decode_json(body)
    except InvalidJson as exc:
        raise MalformedDelivery(f"{what} is not valid JSON: {exc}") from None


class SampleDeliveryError(OrqoError):
    """A sample delivery cannot be made (:meth:`Adapter.sample_delivery`): the adapter makes
    none, or the sender or thread is not in the platform's form (the message says which)."""


class NoSettings(Schema):
    """The schema of an adapter that takes no credentials or no config."""


class Adapter(abc.ABC):
    """A platform adapter.

    Subclasses set:

    :cvar platform: the name Apps choose the adapter by (lower case, e.g. ``slack``); unique
        across installed plugins.
    :cvar description: one line shown by ``orqo plugins``.
    :cvar credentials_schema: a marshmallow schema of the App's credentials (every field is a
        secret: never logged, never shown back). Validated when an App is saved.
    :cvar config_schema: a marshmallow schema of the App's non-secret settings, with their
        defaults. Validated (and defaults filled in) when an App is saved.
    :cvar error_headers: headers added to orqo's refusals of a delivery to this adapter's Apps
        (rejected signature, malformed body: retrying cannot help), for example Slack's
        ``{"X-Slack-No-Retry": "1"}``. Never added to 503s, which ask for a retry.
    :cvar send_interval: seconds orqo's worker leaves between two sends to one chat of an App
        (Slack asks for about one message per second per channel); 0: no pacing.
    :cvar max_text_length: the longest text the platform takes in one message (WhatsApp's
        and Telegram's 4,096 characters); ``POST /api/v1/messages`` refuses longer ones with
        a 422. ``None``: orqo's own limit (:data:`orqo.messages.MAX_TEXT`).
    """

    platform: str = ""
    description: str = ""
    error_headers: dict = {}
    credentials_schema: type[Schema] = NoSettings
    config_schema: type[Schema] = NoSettings
    send_interval: float = 0.0
    max_text_length: int | None = None

    @abc.abstractmethod
    def verify(self, request: StageRequest) -> Verdict:
        """Check that ``request`` really comes from the platform, from the raw body bytes.

        Return :meth:`Verdict.accept` or :meth:`Verdict.reject` with a reason that names what
        is wrong but never a secret. Compare secrets with :func:`hmac.compare_digest`. A GET
        handshake that carries no body signature is verified by whatever the platform gives for
        it (Meta's ``hub.verify_token``, for example).
        """

    @abc.abstractmethod
    def parse(self, request: StageRequest) -> ParseResult:
        """Turn a verified delivery into a :class:`ParseResult`.

        Raise :class:`orqo.errors.MalformedDelivery` when the body is not what the platform
        sends (not JSON, a required field missing).
        """

    def send(self, request: SendRequest, http) -> SendResult:
        """Send one message through the platform's API: the send stage.

        Called by ``orqo worker`` (never on the webhook path), once per attempt, after the
        ``send_message`` hooks let it through. ``http`` is an :class:`orqo.outbound.Http`:
        make every call with it (it bounds the attempt's time and reads the answer); a call
        that gets no answer raises, and orqo retries later.

        Return :meth:`SendResult.sent` with the platform's id of the message;
        :meth:`SendResult.retry` for a rate limit (with the seconds the platform asked for)
        or the platform's own trouble; :meth:`SendResult.failed` with the platform's reason
        when trying again cannot help. Never put a credential in a reason. The default
        answers ``failed``: an adapter that does not override this cannot send, and orqo's
        API refuses messages for its Apps (:meth:`can_send`).
        """
        return SendResult.failed(f"the {self.platform or 'App'} adapter cannot send messages")

    @classmethod
    def sample_delivery(cls, credentials: dict, config: dict, sender_id: str, text: str,
                        thread_id: str | None = None) -> tuple[bytes, dict]:
        """A delivery of one text message, signed as the platform signs it: ``(body,
        headers)`` to POST to an App's webhook URL (what ``orqo send`` posts, like ``stripe
        trigger``).

        ``credentials`` and ``config`` are the App's, validated (defaults filled in);
        ``sender_id`` is the sender as :meth:`parse` reports it (and as a Contact's Channel
        names it, e.g. Slack's ``<team>:<user>``); ``thread_id`` is a thread as :meth:`parse`
        reports it (on a platform without threads, the id of the message it answers, which
        :meth:`parse` reports as ``reply_to``), or None for a message outside a thread.

        The body must be what the platform sends for a person writing ``text``, so that
        :meth:`verify` accepts it and :meth:`parse` gives one message from ``sender_id`` with
        ``text``; every id the platform dedupes on (message id, ``ts``, ``update_id``) must be
        new on every call, so that a second sample is a new message, not a duplicate;
        timestamps are now. ``headers`` include ``Content-Type`` and the signature.

        Raise :class:`SampleDeliveryError` for a ``sender_id`` or ``thread_id`` the platform
        could not have sent. The default raises it: an adapter that does not override this
        cannot make sample deliveries (the remote adapter does not: its platform's format is
        known only to the service behind it).
        """
        raise SampleDeliveryError(
            f"the {cls.platform or 'App'} adapter cannot make sample deliveries")

    @classmethod
    def can_send(cls, config: dict) -> bool:
        """Whether an App with this (validated) ``config`` can send: by default, whether the
        adapter implements :meth:`send` (the remote adapter asks its manifest)."""
        return cls.send is not Adapter.send

    @classmethod
    def credentials_destination(cls, config: dict) -> str | None:
        """Where this App's credentials are sent, given its (validated) ``config``.

        orqo compares the answer for an App's old and new config when the App is changed: when
        it differs, the change must give every credential again, so that a changed setting
        can never carry the stored secrets to a new host (issue 15, finding 4). Return a
        string that names the destination (for an adapter that forwards deliveries to a URL
        of its config, the origin ``scheme://host:port`` of that URL), or ``None`` when the
        credentials only ever go to the platform itself and no setting changes that (the
        default). The default: the origin of the config's ``api_base_url`` when it has one
        (:func:`api_base_url`), else ``None``.
        """
        return url_origin((config or {}).get("api_base_url"))

    @classmethod
    def validate_settings(cls, credentials: dict, config: dict) -> tuple[dict, dict]:
        """Validate an App's credentials and config; return them with defaults filled in.

        Raises :class:`marshmallow.ValidationError` whose ``messages`` are keyed
        ``credentials`` and ``config``.
        """
        errors = {}
        loaded = {}
        for key, schema, values in (
            ("credentials", cls.credentials_schema, credentials),
            ("config", cls.config_schema, config),
        ):
            try:
                loaded[key] = schema().load(values)
            except Exception as exc:  # marshmallow.ValidationError, or a schema's own bug
                errors[key] = getattr(exc, "messages", str(exc))
        if errors:
            raise ValidationError(errors)
        return loaded["credentials"], loaded["config"]


#: How :func:`describe_settings` names a field's marshmallow class (the first that matches).
FIELD_TYPES = ((fields.Boolean, "boolean"), (fields.Integer, "integer"),
               (fields.Number, "number"), (fields.String, "string"), (fields.List, "list"),
               (fields.Dict, "object"), (fields.Nested, "object"))


def _field_type(field) -> str:
    """The field's ``metadata["type"]`` (for a custom field class), else its class's name."""
    if field.metadata.get("type"):
        return str(field.metadata["type"])
    for kind, name in FIELD_TYPES:
        if isinstance(field, kind):
            return name
    return "any"


def _json_value(value):
    """``value`` as JSON can hold it (a default may be a callable or an object)."""
    if callable(value):
        value = value()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return str(value)


def describe_fields(schema: type[Schema]) -> list[dict]:
    """Each field of ``schema``: ``name``, ``type``, ``required``, ``default`` (None when it
    has none), ``description`` (its ``metadata["description"]``, else "") and ``choices``
    (the values a ``OneOf`` validator allows, else None), in declaration order."""
    described = []
    for name, field in schema().fields.items():
        validators = list(getattr(field, "validators", []) or [])
        choices = next((list(each.choices) for each in validators
                        if isinstance(each, validate.OneOf)), None)
        default = field.load_default
        described.append({
            "name": field.data_key or name,
            "type": _field_type(field),
            "required": bool(field.required),
            "default": None if default is missing else _json_value(default),
            "description": str(field.metadata.get("description") or ""),
            "choices": choices,
        })
    return described


def describe_settings(adapter) -> dict:
    """What an App of ``adapter`` (an adapter class or instance) takes: ``platform``,
    ``description``, ``credentials`` and ``config`` (:func:`describe_fields` of its schemas;
    every credential is a secret, never shown back), ``sends`` (whether the adapter has a
    send stage; an App's config may still keep it from sending, e.g. custom without a
    ``reply_url``) and ``samples`` (whether it implements :meth:`Adapter.sample_delivery`, so
    ``orqo send`` works for its Apps). ``orqo adapters show`` and ``GET /api/v1/adapters``
    print this."""
    cls = adapter if isinstance(adapter, type) else type(adapter)
    return {
        "platform": cls.platform,
        "description": cls.description,
        "sends": cls.send is not Adapter.send,
        "samples": cls.sample_delivery.__func__ is not Adapter.sample_delivery.__func__,
        "credentials": describe_fields(cls.credentials_schema),
        "config": describe_fields(cls.config_schema),
    }
