"""Any installed adapter plugin served over ORQO's HTTP adapter contract.

``orqo adapter-serve PLATFORM`` runs the app built here, so an adapter can live in its own
container and be used by another orqo (``--adapter remote``) or by anything that speaks ORQO's
contract (``shared/reference/orqo.md``, "Adapters"):

* ``GET /manifest.json``: the adapter's name and description, ``capabilities: ["receive"]``
  and one credential per field of its ``credentials_schema`` (``key`` and ``maps_to`` are both
  the field name; ``required`` says whether the schema requires it);
* ``GET /health``: ``{"status": "ready", "version": <installed plugin version>, "adapter"}``;
* ``POST /verify-webhook`` and ``POST /parse-inbound``: a :class:`orqo.schemas.StageRequestSchema`
  JSON in, a :class:`~orqo.schemas.VerdictSchema` or :class:`~orqo.schemas.ParseResultSchema`
  JSON out. The credentials and config in the request are validated by the adapter's
  ``validate_settings`` on every call (the service keeps no state).

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

from flask import Flask
from flask import jsonify
from flask import request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from orqo import __version__
from orqo.errors import MalformedDelivery
from orqo.errors import UnknownPlatform
from orqo.errors import error_response
from orqo.messages import NotAMessage
from orqo.messages import check_message
from orqo.plugins import collect_adapters
from orqo.plugins import make_plugin_manager
from orqo.schemas import ParseResultSchema
from orqo.schemas import StageRequestSchema
from orqo.schemas import VerdictSchema
from orqo.stages import ParseResult
from orqo.stages import Verdict

logger = logging.getLogger(__name__)

#: The manifest format served (ORQO's ``schema_version``).
MANIFEST_SCHEMA_VERSION = "1.0"
#: Largest request accepted: a 4 MiB delivery, base64-encoded, with its headers.
MAX_REQUEST_BYTES = 8 * 1024 * 1024


class BadStageRequest(Exception):
    """A request to a stage endpoint orqo cannot use; answered 400 or 422."""

    def __init__(self, status: int, code: str, message: str, details=None):
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


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
        "capabilities": ["receive"],
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


def _load_stage_request(adapter):
    """The request's stage data with its settings validated and defaults filled in."""
    try:
        data = json.loads(request.get_data())
    except (ValueError, RecursionError):
        raise BadStageRequest(400, "bad_request", "The request body is not valid JSON.") from None
    try:
        stage_request = StageRequestSchema().load(data)
    except ValidationError as exc:
        raise BadStageRequest(422, "validation_error", "The stage request is not valid.",
                              exc.messages) from None
    try:
        credentials, config = adapter.validate_settings(stage_request.credentials,
                                                        stage_request.config)
    except ValidationError as exc:
        raise BadStageRequest(422, "invalid_settings", "The credentials or config are not "
                              f"valid for adapter {adapter.platform!r}.", exc.messages) from None
    # Each call is verified with the credentials it carries; the caller retries old ones.
    return dataclasses.replace(stage_request, credentials=credentials, config=config,
                               previous_credentials=[])


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
