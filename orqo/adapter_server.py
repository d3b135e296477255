"""Any installed adapter plugin served over ORQO's HTTP adapter contract.

``orqo adapter-serve PLATFORM`` runs the app built here, so an adapter can live in its own
container and be used by another orqo (``--adapter remote``) or by anything that speaks ORQO's
contract (``shared/reference/orqo.md``, "Adapters"):

* ``GET /manifest.json``: the adapter's name and description, ``capabilities``
  (``["receive", "send"]`` when the adapter implements the send stage, else ``["receive"]``)
  and one credential per field of its ``credentials_schema`` (``key`` and ``maps_to`` are both
  the field name; ``required`` says whether the schema requires it);
* ``GET /health``: ``{"status": "ready", "version": <installed plugin version>, "adapter"}``;
* ``POST /verify-webhook`` and ``POST /parse-inbound``: a :class:`orqo.schemas.StageRequestSchema`
  JSON in, a :class:`~orqo.schemas.VerdictSchema` or :class:`~orqo.schemas.ParseResultSchema`
  JSON out. The credentials and config in the request are validated by the adapter's
  ``validate_settings`` on every call (the service keeps no state).
* ``POST /deliver``: the send stage. A :class:`orqo.schemas.SendRequestSchema` JSON in (settings
  validated as above), the adapter's :class:`~orqo.schemas.SendResultSchema` JSON out, HTTP 200
  whatever became of the message (``sent``, ``retry`` or ``failed``)::

      POST /deliver
      {"app_id": "Ab3dE5", "adapter": "remote", "message_id": 42, "attempt": 1,
       "credentials": {"signing_secret": "...", "reply_secret": "whsec_..."},
       "config": {"reply_url": "https://replies.example/orqo"},
       "recipient": "ada", "chat_id": "ops-room", "text": "Deploy is done",
       "in_reply_to": {"platform_message_id": "m-17", "chat_id": "ops-room",
                       "thread_id": "ops-42", "extra": {}}}

      200 {"status": "sent", "platform_message_id": "rcv-9", "chat_id": "ops-room",
           "thread_id": "ops-42", "reply_key": "rcv-9", "retry_after": null, "reason": "",
           "meta": {}}
      200 {"status": "retry", "retry_after": 7.0, "reason": "the reply URL answered HTTP 429",
           "platform_message_id": null, ...}

  The adapter calls its platform with one pooled session, within :data:`DELIVER_SECONDS`; a
  platform that cannot be reached gives ``retry`` ("the platform could not be reached:
  ConnectionError", the exception's type as orqo's worker words it, never its text). An
  adapter that has no send stage answers 501 ``send_not_supported`` (its manifest does not
  list ``send``): no request could ever succeed, which a ``failed`` result would not say.

Errors have orqo's shape ``{"error": {"code", "message", "details"}}``: a body the platform
could not have meant (``MalformedDelivery``) is 400 ``malformed``; a request that is not JSON is
400, one that breaks the schema or carries invalid settings 422. Only the adapter's own failure
is 500. The service holds no secret: callers send the credentials with each request, so it
must be reached over TLS or on a private network.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import logging

import requests
from flask import Flask
from flask import jsonify
from flask import request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from orqo import __version__
from orqo import deadlines
from orqo.adapters import Adapter
from orqo.errors import MalformedDelivery
from orqo.errors import UnknownPlatform
from orqo.errors import error_response
from orqo.messages import NotAMessage
from orqo.messages import check_message
from orqo.outbound import Http
from orqo.plugins import collect_adapters
from orqo.plugins import make_plugin_manager
from orqo.schemas import ParseResultSchema
from orqo.schemas import SendRequestSchema
from orqo.schemas import SendResultSchema
from orqo.schemas import StageRequestSchema
from orqo.schemas import VerdictSchema
from orqo.stages import ParseResult
from orqo.stages import SendResult
from orqo.stages import Verdict

logger = logging.getLogger(__name__)

#: The manifest format served (ORQO's ``schema_version``).
MANIFEST_SCHEMA_VERSION = "1.0"
#: Largest request accepted: a 4 MiB delivery, base64-encoded, with its headers.
MAX_REQUEST_BYTES = 8 * 1024 * 1024
#: Seconds one ``POST /deliver`` may spend calling the platform, in all. Below what orqo's
#: remote adapter waits by default (``send_timeout``, 10 s), so that the caller gets the
#: adapter's answer (a ``retry`` for a slow platform) rather than a timeout of its own.
DELIVER_SECONDS = 8.0


class BadStageRequest(Exception):
    """A request to a stage endpoint orqo cannot use; answered 400 or 422."""

    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def implements_send(adapter) -> bool:
    """Whether ``adapter`` has a send stage of its own. Whether an App of it can send may
    still depend on its config (custom needs a ``reply_url``), which the service, holding no
    App, cannot know."""
    return type(adapter).send is not Adapter.send


def describe_manifest(adapter, version: str, author: str | None) -> dict:
    """The adapter's ``/manifest.json``."""
    credentials = []
    for name, field in adapter.credentials_schema().fields.items():
        key = field.data_key or name
        credentials.append({
            "key": key, "maps_to": key, "type": "secret", "required": bool(field.required),
            "label": field.metadata.get("label") or field.metadata.get("description") or key,
        })
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "name": adapter.platform,
        "description": adapter.description,
        "icon": None,
        "category": "messaging",
        "capabilities": ["receive", "send"] if implements_send(adapter) else ["receive"],
        "credentials": credentials,
        "setup_instructions": inspect.getdoc(type(adapter)) or adapter.description,
        "author": author or "orqo",
    }


def _plugin_release(pm, plugin_name: str) -> tuple[str, str | None]:
    """The installed version and author of the plugin named ``plugin_name``."""
    for plugin, dist in pm.list_plugin_distinfo():
        if pm.get_name(plugin) == plugin_name:
            return dist.version, dist.metadata.get("Author")
    plugin = pm.get_plugin(plugin_name)
    return str(getattr(plugin, "__version__", None) or __version__), None


def _load_request(schema, what: str):
    """The request's JSON loaded by ``schema``; 400 when it is not JSON, 422 when it breaks
    the schema."""
    try:
        data = json.loads(request.get_data())
    except (ValueError, RecursionError):
        raise BadStageRequest(400, "bad_request", "The request body is not valid JSON.") from None
    try:
        return schema.load(data)
    except ValidationError as exc:
        raise BadStageRequest(422, "validation_error", f"The {what} is not valid.",
                              exc.messages) from None


def _validated_settings(adapter, credentials: dict, config: dict) -> tuple[dict, dict]:
    """The credentials and config validated by the adapter, defaults filled in; else 422."""
    try:
        return adapter.validate_settings(credentials, config)
    except ValidationError as exc:
        raise BadStageRequest(422, "invalid_settings", "The credentials or config are not "
                              f"valid for adapter {adapter.platform!r}.", exc.messages) from None


def _load_stage_request(adapter):
    """The request's stage data with its settings validated and defaults filled in."""
    stage_request = _load_request(StageRequestSchema(), "stage request")
    credentials, config = _validated_settings(adapter, stage_request.credentials,
                                              stage_request.config)
    # Each call is verified with the credentials it carries; the caller retries old ones.
    return dataclasses.replace(stage_request, credentials=credentials, config=config,
                               previous_credentials=[])


def _load_send_request(adapter):
    """The request's send data with its settings validated and defaults filled in."""
    send_request = _load_request(SendRequestSchema(), "send request")
    credentials, config = _validated_settings(adapter, send_request.credentials,
                                              send_request.config)
    return dataclasses.replace(send_request, credentials=credentials, config=config)


def _send(adapter, send_request, session) -> SendResult:
    """The adapter's send stage within :data:`DELIVER_SECONDS`; a platform that could not
    be reached is a ``retry``, worded as orqo's worker words it."""
    try:
        result = adapter.send(send_request, Http(session, DELIVER_SECONDS))
    except requests.RequestException as exc:
        # The exception's text may hold the platform URL, and some carry a token in the path.
        logger.warning("adapter %r: the platform could not be reached (%s)", adapter.platform,
                       type(exc).__name__)
        return SendResult.retry(f"the platform could not be reached: {type(exc).__name__}")
    if not isinstance(result, SendResult):
        raise TypeError(f"send returned {type(result).__name__}, not a SendResult")
    return result


def installed_adapters(*, load_entrypoints: bool = True, plugins=()):
    """The plugin manager, ``{platform: adapter}`` and ``{platform: plugin name}``."""
    pm = make_plugin_manager(load_entrypoints=load_entrypoints, plugins=plugins)
    return (pm, *collect_adapters(pm))


def create_adapter_app(platform: str, *, load_entrypoints: bool = True, plugins=()) -> Flask:
    """A Flask app serving the installed adapter ``platform`` over ORQO's adapter contract.

    :param load_entrypoints: find adapters in the ``orqo`` entry-point group (tests turn it off
        and pass ``plugins``).
    :param plugins: extra plugin objects or modules to register.
    :raises UnknownPlatform: when no installed plugin provides ``platform``.
    """
    pm, adapters, owners = installed_adapters(load_entrypoints=load_entrypoints,
                                              plugins=plugins)
    if platform not in adapters:
        raise UnknownPlatform(platform)
    adapter = adapters[platform]
    version, author = _plugin_release(pm, owners[platform])
    manifest = describe_manifest(adapter, version, author)

    app = Flask("orqo.adapter_server")
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.json.sort_keys = False

    @app.get("/manifest.json")
    def get_manifest():
        return jsonify(manifest)

    @app.get("/health")
    def get_health():
        return jsonify({"status": "ready", "version": version, "adapter": platform})

    @app.post("/verify-webhook")
    def verify_webhook():
        verdict = adapter.verify(_load_stage_request(adapter))
        if not isinstance(verdict, Verdict):
            raise TypeError(f"verify returned {type(verdict).__name__}, not a Verdict")
        return jsonify(VerdictSchema().dump(verdict))

    @app.post("/parse-inbound")
    def parse_inbound():
        stage_request = _load_stage_request(adapter)
        try:
            result = adapter.parse(stage_request)
        except MalformedDelivery as exc:
            return error_response(400, "malformed", str(exc))
        if not isinstance(result, ParseResult):
            raise TypeError(f"parse returned {type(result).__name__}, not a ParseResult")
        # The check the pipeline makes of every adapter's messages (the same limits).
        try:
            for message in result.messages:
                check_message(message)
        except NotAMessage as exc:
            return error_response(400, "malformed",
                                  f"the message does not fit orqo's message format: {exc}")
        return jsonify(ParseResultSchema().dump(result))

    # One pooled session for every send, as orqo's worker has (closed with the process).
    send_session = deadlines.make_session()

    @app.post("/deliver")
    def deliver():
        if not implements_send(adapter):
            return error_response(501, "send_not_supported",
                                  f"Adapter {platform!r} cannot send messages.")
        result = _send(adapter, _load_send_request(adapter), send_session)
        data = SendResultSchema().dump(result)
        try:
            SendResultSchema().load(data)  # what the caller will check: fail here, not there
        except ValidationError as exc:
            raise TypeError(f"send returned a result outside the contract: {exc.messages}"
                            ) from None
        return jsonify(data)

    @app.errorhandler(BadStageRequest)
    def _bad_request(exc: BadStageRequest):
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        response = error_response(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"),
                                  exc.description or exc.name)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def _adapter_failed(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        logger.exception("adapter %r failed", platform)
        return error_response(500, "adapter_error", f"Adapter {platform!r} failed to handle "
                              "the request.")

    return app
