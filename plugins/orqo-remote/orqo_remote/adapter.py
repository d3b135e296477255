"""The ``remote`` adapter: an App's verify, parse and send stages answered by an HTTP service."""
from __future__ import annotations

import dataclasses
import json
import re

from marshmallow import INCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from orqo.adapters import Adapter
from orqo.adapters import url_origin
from orqo.errors import MalformedDelivery
from orqo.schemas import ParseResultSchema
from orqo.schemas import StageRequestSchema
from orqo.schemas import VerdictSchema
from orqo.stages import ParseResult
from orqo.stages import SendRequest
from orqo.stages import SendResult
from orqo.stages import StageRequest
from orqo.stages import Verdict
from orqo_remote import client
from orqo_remote.deliver import SEND_TIMEOUT
from orqo_remote.deliver import deliver
from orqo_remote.client import RemoteAdapterError
from orqo_remote.client import redact
from orqo_remote.manifest import HealthSchema
from orqo_remote.manifest import ManifestSchema

MIB = 1024 * 1024
#: Seconds ``GET /manifest.json`` may take in all when an App is saved (not on the delivery path).
MANIFEST_TIMEOUT = 10.0
#: The least time worth starting a stage call with.
MIN_REMAINING = 0.01
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_STAGE_REQUEST = StageRequestSchema()


class JsonObject(fields.Field):
    """A JSON object, given as a dict or (on the command line) as JSON text."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationError("Not valid JSON.") from None
        if not isinstance(value, dict):
            raise ValidationError("Must be a JSON object.")
        return value


class RemoteConfig(Schema):
    """Where the adapter is and how long orqo waits for it."""

    url = fields.String(required=True, validate=validate.Length(min=1, max=2000), metadata={
        "description": "The adapter service's base URL (orqo adapter-serve, or anything "
                       "speaking ORQO's adapter contract)."})
    #: One budget for the whole delivery, counted from its receipt (Slack allows 3 s).
    budget_seconds = fields.Float(load_default=2.5, validate=validate.Range(min=0.05, max=30),
                                  metadata={"description": "Seconds for the whole delivery's "
                                                           "calls to the service."})
    connect_timeout = fields.Float(load_default=1.0, validate=validate.Range(min=0.05, max=10),
                                   metadata={"description": "Seconds to connect to the "
                                                            "service."})
    max_response_bytes = fields.Integer(load_default=MIB,
                                        validate=validate.Range(min=1024, max=16 * MIB),
                                        metadata={"description": "The largest answer read "
                                                                 "from the service."})
    #: Sent as the stage request's ``config``: the remote adapter's own settings.
    adapter_config = JsonObject(load_default=dict, metadata={
        "type": "object", "description": "The remote adapter's own config (a JSON object)."})
    #: The manifest's ``{key: maps_to}``, kept when the App is saved (any value given is replaced).
    credential_map = fields.Dict(keys=fields.String(), values=fields.String(),
                                 load_default=None, allow_none=True, metadata={
                                     "description": "Set from the manifest when saved."})
    #: Seconds one send (``POST /deliver``) may take in all, within the worker's attempt.
    send_timeout = fields.Float(load_default=SEND_TIMEOUT,
                                validate=validate.Range(min=0.05, max=60),
                                metadata={"description": "Seconds one send may take."})
    #: The manifest's ``capabilities``, kept when the App is saved (any value given is
    #: replaced): with ``send`` among them, the App can send.
    capabilities = fields.List(fields.String(), load_default=None, allow_none=True,
                               metadata={"description": "Set from the manifest when saved."})


class RemoteCredentials(Schema):
    """Any credentials: the adapter's manifest says which (see ``validate_settings``)."""

    class Meta:
        unknown = INCLUDE


def fetch_manifest(session, base_url: str, config: dict) -> dict:
    """``GET /manifest.json``, validated; :class:`RemoteAdapterError` when unusable."""
    status, body = client.call(session, "GET", base_url, "/manifest.json",
                               connect_timeout=config["connect_timeout"],
                               read_timeout=MANIFEST_TIMEOUT, limit=config["max_response_bytes"],
                               deadline=client.clock() + MANIFEST_TIMEOUT)
    where = f"remote adapter {base_url}: GET /manifest.json"
    if status != 200:
        raise RemoteAdapterError(f"{where} answered HTTP {status}.")
    try:
        return ManifestSchema().load(client.decode_json(body, where))
    except ValidationError as exc:
        raise RemoteAdapterError(f"{where}: not a valid manifest: {exc.messages}") from None


def fetch_health(session, base_url: str, config: dict) -> dict:
    """``GET /health``, which must say ``ready`` within the delivery budget."""
    status, body = client.call(session, "GET", base_url, "/health",
                               connect_timeout=config["connect_timeout"],
                               read_timeout=config["budget_seconds"],
                               limit=config["max_response_bytes"],
                               deadline=client.clock() + config["budget_seconds"])
    where = f"remote adapter {base_url}: GET /health"
    data = client.decode_json(body, where) if body else None
    try:
        health = HealthSchema().load(data)
    except ValidationError as exc:
        raise RemoteAdapterError(f"{where} (HTTP {status}): not a valid health answer: "
                                 f"{exc.messages}") from None
    if status != 200 or health["status"] != "ready":
        raise RemoteAdapterError(f"{where}: not ready (HTTP {status}, status "
                                 f"{health['status']!r}).")
    return health


def credential_errors(manifest: dict, credentials: dict) -> dict:
    """Field errors of the App's credentials against what the manifest declares."""
    declared = {credential["key"]: credential for credential in manifest["credentials"]}
    errors = {}
    for key, value in credentials.items():
        if key not in declared:
            errors[key] = [f"Unknown field: adapter {manifest['name']!r} does not declare it."]
        elif not isinstance(value, str) or not value:
            errors[key] = ["Must be a non-empty string."]
    for key, credential in declared.items():
        if credential["required"] and key not in credentials:
            errors[key] = ["Missing data for required field."]
    return errors


class RemoteAdapter(Adapter):
    """Verify, parse and send by POSTing the stage data to an adapter service (ORQO's
    contract)."""

    platform = "remote"
    description = "Any adapter served over ORQO's HTTP adapter contract (config url=...)"
    credentials_schema = RemoteCredentials
    config_schema = RemoteConfig

    def __init__(self):
        self.session = client.make_session()

    @classmethod
    def credentials_destination(cls, config: dict) -> str | None:
        """Where the App's credentials are sent: the origin of ``config["url"]``
        (``scheme://host:port``, lower case, the port explicit), followed by
        ``key=<origin>`` for each http(s) URL among the top-level values of
        ``adapter_config``: the remote adapter sends or signs with the credentials there (a
        platform's ``api_base_url``, a custom App's ``reply_url``). orqo asks for the
        credentials again when a settings change would send them somewhere else."""
        config = config or {}
        where = url_origin(config.get("url"))
        adapter_config = config.get("adapter_config")
        onward = sorted(f"{key}={url_origin(value)}"
                        for key, value in (adapter_config.items()
                                           if isinstance(adapter_config, dict) else ())
                        if isinstance(value, str)
                        and value.strip().lower().startswith(("http://", "https://")))
        if where is None or not onward:
            return where
        return " ".join([where, *onward])

    @classmethod
    def validate_settings(cls, credentials: dict, config: dict) -> tuple[dict, dict]:
        """Check the URL, fetch and validate the adapter's manifest, check the credentials.

        Keeps the manifest's ``{key: maps_to}`` in ``config["credential_map"]`` and its
        ``capabilities`` in ``config["capabilities"]``. Raises
        :class:`marshmallow.ValidationError` keyed ``config`` (the URL or the adapter is not
        usable) or ``credentials`` (missing, unknown or empty).
        """
        try:
            config = RemoteConfig().load(config)
        except ValidationError as exc:
            raise ValidationError({"config": exc.messages}) from None
        session = client.make_session()
        try:
            config["url"] = client.check_url(config["url"], client.allowed_hosts())
            manifest = fetch_manifest(session, config["url"], config)
        except RemoteAdapterError as exc:
            client.log_detail(exc)
            raise ValidationError({"config": {"url": [str(exc)]}}) from None
        finally:
            session.close()
        errors = credential_errors(manifest, credentials)
        if errors:
            raise ValidationError({"credentials": errors})
        config["credential_map"] = {c["key"]: c["maps_to"] for c in manifest["credentials"]}
        config["capabilities"] = list(manifest["capabilities"])
        return dict(credentials), config

    @classmethod
    def can_send(cls, config: dict) -> bool:
        """Whether the adapter's manifest listed ``send`` when the App was saved."""
        return "send" in ((config or {}).get("capabilities") or [])

    def send(self, request: SendRequest, http) -> SendResult:
        """The remote adapter's send result (``POST /deliver``, :mod:`orqo_remote.deliver`):
        its failures are ``retry`` (unreachable, 5xx) or ``failed`` (4xx) results."""
        return deliver(self.session, request, http)

    def verify(self, request: StageRequest) -> Verdict:
        """The remote adapter's verdict (``POST /verify-webhook``)."""
        where, data = self._post(request, "/verify-webhook")
        try:
            verdict = VerdictSchema().load(data)
        except ValidationError as exc:
            raise RemoteAdapterError(f"{where}: not a valid verdict: {exc.messages}") from None
        verdict.reason = redact(verdict.reason, request.credentials)
        return verdict

    def parse(self, request: StageRequest) -> ParseResult:
        """The remote adapter's parse result (``POST /parse-inbound``).

        An HTTP 400 in orqo's error shape means the body is malformed: raised as
        :class:`MalformedDelivery` with the adapter's message.
        """
        where, data = self._post(request, "/parse-inbound", malformed_is_400=True)
        try:
            return ParseResultSchema().load(data)
        except ValidationError as exc:
            raise RemoteAdapterError(f"{where}: not a valid parse result: {exc.messages}"
                                     ) from None

    def check(self, credentials: dict, config: dict) -> dict:
        """Fetch the manifest and health of an App's adapter, for ``orqo adapters check``.

        Returns ``{"url", "ready", "errors", "manifest", "health"}``; ``ready`` is true only
        when both answered, health says ``ready`` and the App has the credentials the manifest
        declares under the names it was saved with.
        """
        report = {"url": config.get("url"), "ready": False, "errors": [], "manifest": None,
                  "health": None}
        try:
            base_url = client.check_url(config.get("url"), client.allowed_hosts())
        except RemoteAdapterError as exc:
            report["errors"].append(str(exc))
            return report
        for key, fetch in (("manifest", fetch_manifest), ("health", fetch_health)):
            try:
                report[key] = fetch(self.session, base_url, config)
            except RemoteAdapterError as exc:
                # Run by an operator on orqo's host: the cause is theirs to see.
                report["errors"].append(f"{exc} (cause: {exc.detail})" if exc.detail
                                        else str(exc))
        manifest = report["manifest"]
        if manifest is not None:
            if credential_errors(manifest, credentials):
                report["errors"].append("The App's credentials no longer match the manifest: "
                                        f"{sorted(credential_errors(manifest, credentials))}.")
            current = {c["key"]: c["maps_to"] for c in manifest["credentials"]}
            if current != config.get("credential_map"):
                report["errors"].append("The manifest's credential names changed since the App "
                                        "was saved; save the App's settings again.")
            if ("send" in manifest["capabilities"]) != self.can_send(config):
                report["errors"].append("The manifest's send capability changed since the App "
                                        "was saved; save the App's settings again.")
        report["ready"] = not report["errors"]
        return report

    def _post(self, request: StageRequest, path: str, malformed_is_400=False):
        """POST the stage request within what is left of the delivery's budget."""
        config = request.config
        base_url = client.check_url(config.get("url"), client.allowed_hosts())
        where = f"remote adapter {base_url}: POST {path}"
        deadline = request.received_at + config["budget_seconds"]
        remaining = min(deadline - client.clock(), config["budget_seconds"])
        if remaining < MIN_REMAINING:
            raise RemoteAdapterError(f"{where}: not sent, the delivery's budget of "
                                     f"{config['budget_seconds']:.3g} s is used up.")
        mapping = config.get("credential_map") or {}
        outgoing = dataclasses.replace(
            request,
            credentials={mapping[k]: v for k, v in request.credentials.items() if k in mapping},
            config=dict(config.get("adapter_config") or {}),
            # orqo retries verify with each previous credential set itself (secret rotation).
            previous_credentials=[],
        )
        payload = json.dumps(_STAGE_REQUEST.dump(outgoing)).encode("utf-8")
        try:
            status, body = client.call(
                self.session, "POST", base_url, path, payload=payload, deadline=deadline,
                connect_timeout=min(config["connect_timeout"], remaining),
                read_timeout=remaining, limit=config["max_response_bytes"])
        except RemoteAdapterError as exc:
            client.log_detail(exc)
            raise
        if 200 <= status < 300:
            return where, client.decode_json(body, where)
        try:
            data = client.decode_json(body, where)
        except RemoteAdapterError:  # an error page: its status says enough
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        if malformed_is_400 and status == 400 and isinstance(message, str):
            raise MalformedDelivery(redact(message, request.credentials))
        code = error.get("code") if isinstance(error, dict) else None
        named = f" ({code})" if isinstance(code, str) and _CODE.match(code) else ""
        raise RemoteAdapterError(f"{where} answered HTTP {status}{named}.")
