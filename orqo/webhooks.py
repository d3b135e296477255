"""The inbound webhook endpoint, ``/api/v1/webhooks/<app_id>``, and the pipeline behind it.

One delivery, top to bottom (:func:`receive`):

1. the App, from this worker's cache (:mod:`orqo.app_cache`; 404 when there is none);
2. **verify** the raw bytes: the App's adapter decides (with the previous credentials during a
   rotation's grace period), then any plugin may veto through the ``verify_webhook`` hook;
3. **parse**: the App's adapter turns the body into messages or a challenge answer; plugins
   observe through the ``parse_webhook`` hook; every message is checked against the one
   normalised format (:func:`orqo.messages.check_message`);
4. each message is read, gated, deduplicated, limited, routed and **written**
   (:func:`orqo.intake.admit`), the delivery's row with the first of them;
5. the answer: 2xx only once everything is committed.

Every recorded delivery keeps what it carried: its headers with secrets redacted and its body
up to ``LEDGER_BODY_BYTES`` (:mod:`orqo.carried`), in the same INSERT.

Steps 1 to 3 touch no database (the App cache reads one revision per worker every
``APP_CACHE_SECONDS``); a delivery that stops there (refused, a challenge, nothing to route) is
recorded with one INSERT, except one whose signature was not proven (missing, wrong, an
unsigned ping): that one is only counted, in bounded form (:mod:`orqo.rejections`).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import time
from dataclasses import dataclass

from flask import Blueprint
from flask import Response
from flask import current_app
from flask import request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import MethodNotAllowed

from orqo import intake
from orqo.app_cache import AppCache
from orqo.app_switch import refuse_disabled
from orqo.carried import carried
from orqo.errors import ApiError
from orqo.errors import MalformedDelivery
from orqo.errors import PluginError
from orqo.errors import error_response
from orqo.handlers import handlers_in_order
from orqo.messages import NotAMessage
from orqo.messages import check_message
from orqo.messages import clean_json
from orqo.messages import clean_text
from orqo.metrics import DELIVERIES
from orqo.metrics import MESSAGES
from orqo.metrics import DELIVERY_SECONDS
from orqo.models import utcnow
from orqo.plugins import failing_plugin
from orqo.rejections import Rejections
from orqo.stages import ParseResult
from orqo.stages import StageRequest
from orqo.stages import Verdict
from orqo.store import Store

logger = logging.getLogger(__name__)

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks")

APP_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_counters = {}


def count(counter, *labels) -> None:
    """Add one to ``counter``'s sample of ``labels`` (its child looked up once per process)."""
    child = _counters.get((counter, labels))
    if child is None:
        child = _counters[(counter, labels)] = counter.labels(*labels)
    child.inc()


def answer(document: dict, status: int = 200) -> Response:
    """``document`` as the JSON answer."""
    return Response(json.dumps(document), status, content_type="application/json")


@dataclass
class Pipeline:
    """What the webhook path of one orqo app holds (``app.extensions["orqo.pipeline"]``)."""

    pm: object
    adapters: dict
    handlers: list
    apps: AppCache
    store: Store
    sender_limit: int
    push_enabled: bool
    retry_after: int
    rejections: Rejections
    #: ``LEDGER_BODY_BYTES``: how much of each delivery's body the ledger keeps.
    ledger_body_bytes: int = 16384


@bp.route("/<app_id>", methods=["POST", "GET"])
def receive(app_id: str):
    """Receive one delivery (GET only for platform handshakes such as Meta's)."""
    if request.method == "HEAD":  # Flask adds HEAD to GET routes; no platform sends it
        raise MethodNotAllowed(valid_methods=["GET", "POST"])
    started = time.perf_counter()
    pipeline = current_app.extensions["orqo.pipeline"]
    try:
        return _receive(pipeline, app_id, started)
    except SQLAlchemyError:
        pipeline.store.drop()  # the next request opens a fresh connection
        raise


def _receive(pipeline: Pipeline, app_id: str, started: float) -> Response:
    app = pipeline.apps.get(app_id) if APP_ID.match(app_id) else None
    if app is None:
        raise ApiError(404, "unknown_app", f"No App has the id {app_id!r}.")
    if not app.enabled:
        return refuse_disabled(pipeline, app.id)
    received_at = utcnow()
    http = request._get_current_object()
    delivery = {"app_id": app.id, "received_at": received_at, "method": http.method,
                "client_address": http.remote_addr, "outcome": "accepted", "reason": "",
                "status_code": 200, "duration_ms": 0.0, "meta": {}}
    headers, body = [[key, value] for key, value in http.headers], http.get_data(cache=False)
    delivery.update(carried(headers, body, pipeline.ledger_body_bytes))
    adapter = pipeline.adapters.get(app.adapter)
    if adapter is None:
        return refuse(pipeline, delivery, started, "adapter_error", 503,
                      f"adapter {app.adapter!r} is not installed", proven=False)
    stage_request = StageRequest(
        app_id=app.id, adapter=app.adapter, method=http.method, path=http.path,
        query=([[key, value] for key, value in http.args.items(multi=True)]
               if http.environ.get("QUERY_STRING") else []),
        headers=headers, body=body, credentials=dict(app.credentials),
        config=dict(app.config), received_at=received_at.timestamp(),
        previous_credentials=app.credentials_still_accepted(received_at),
    )
    try:
        verdict = verify(pipeline.pm, adapter, stage_request)
    except MalformedDelivery as exc:
        return refuse(pipeline, delivery, started, "malformed", 400, str(exc),
                      adapter.error_headers, proven=False)
    except PluginError as exc:
        return refuse(pipeline, delivery, started, "adapter_error", 503, str(exc), proven=False)
    if not verdict.accepted:
        return refuse(pipeline, delivery, started, "rejected_signature", verdict.status,
                      verdict.reason, adapter.error_headers, proven=False)
    if not verdict.signed:  # a ping the platform sends unsigned: acknowledged, only counted
        return refuse(pipeline, delivery, started, "unsigned", 200, verdict.reason,
                      proven=False)
    try:
        result = parse(pipeline.pm, adapter, stage_request)
    except MalformedDelivery as exc:
        return refuse(pipeline, delivery, started, "malformed", 400, str(exc),
                      adapter.error_headers)
    except PluginError as exc:
        return refuse(pipeline, delivery, started, "adapter_error", 503, str(exc))
    delivery["meta"] = result.meta
    if result.challenge is not None:
        challenge = result.challenge
        record(pipeline, delivery, started, "challenge", challenge.status)
        return Response(challenge.body, challenge.status, content_type=challenge.content_type)
    if not result.messages:
        delivery_id = record(pipeline, delivery, started, "accepted", 200,
                             result.reason or "nothing to route")
        return answer({"delivery_id": delivery_id, "outcome": "accepted", "messages": []})
    return route(pipeline, app, delivery, result.messages, started)


def route(pipeline: Pipeline, app, delivery: dict, messages: list, started: float) -> Response:
    """Admit each message (the delivery's row is written with the first); answer 200."""
    flask_app = current_app._get_current_object()
    stored, outcomes = delivery, []
    delivery["duration_ms"] = (time.perf_counter() - started) * 1000
    for message in messages:
        try:
            admitted = intake.admit(pipeline, flask_app, app, stored, message,
                                    delivery["received_at"])
        except intake.RoutingError as exc:
            # What is not stored may not be acknowledged: the platform retries, and the
            # messages stored before this one are then duplicates.
            logger.error("delivery to app %s not routed: %s", app.id, exc)
            return error_response(
                503, "routing_failed", "No handler could take a message; retry later.",
                headers={"Retry-After": str(pipeline.retry_after)})
        stored = admitted.written.delivery_id
        outcomes.append({"outcome": admitted.outcome, "handler": admitted.handler})
    DELIVERY_SECONDS.observe(time.perf_counter() - started)
    count(DELIVERIES, app.id, "accepted")
    for outcome in outcomes:
        count(MESSAGES, app.id, outcome["outcome"], outcome["handler"] or "")
    # Accepted deliveries are in the ledger (and the access log): logged only when debugging.
    logger.debug("delivery %s to app %s: accepted", stored, app.id)
    return answer({"delivery_id": stored, "outcome": "accepted", "messages": outcomes})


def verify(pm, adapter, request: StageRequest) -> Verdict:
    """The App's adapter's verdict (retried with each previous credential set still in its
    grace period), then the ``verify_webhook`` plugins' vetoes of what it accepted.

    Raises :class:`PluginError` naming the adapter or plugin that failed.
    """
    verdict = _adapter_verdict(adapter, request)
    for previous in request.previous_credentials if not verdict.accepted else ():
        retried = _adapter_verdict(adapter, dataclasses.replace(
            request, credentials=previous, previous_credentials=[]))
        if retried.accepted:
            verdict = retried
            break
    if not verdict.accepted or not pm.hook.verify_webhook.get_hookimpls():
        return verdict
    for answer in call_hook(pm.hook.verify_webhook, request=request, adapter=adapter):
        if not isinstance(answer, Verdict) or not (answer.accepted or 400 <= answer.status < 500):
            raise PluginError("a verify_webhook plugin", "verify_webhook", TypeError(
                f"returned {answer!r}, not a Verdict (rejections need a 4xx status)"))
        if not answer.accepted:
            return answer
    return verdict


def _adapter_verdict(adapter, request: StageRequest) -> Verdict:
    try:
        verdict = adapter.verify(request)
    except Exception as exc:  # noqa: BLE001 - the adapter's failure, named
        raise PluginError(f"{adapter.platform} adapter", "verify", exc) from exc
    if not isinstance(verdict, Verdict) or not (verdict.accepted or 400 <= verdict.status < 500):
        raise PluginError(f"{adapter.platform} adapter", "verify", TypeError(
            f"returned {verdict!r}, not a Verdict (rejections need a 4xx status)"))
    return verdict


def parse(pm, adapter, request: StageRequest) -> ParseResult:
    """The App's adapter's :class:`ParseResult`, its messages checked against the format
    (one that does not fit is :class:`MalformedDelivery`); ``parse_webhook`` plugins observe.

    Raises :class:`PluginError` when the adapter or an observer failed, or the adapter's
    answer is not a ParseResult.
    """
    try:
        result = adapter.parse(request)
    except MalformedDelivery:
        raise
    except Exception as exc:  # noqa: BLE001 - the adapter's failure, named
        raise PluginError(f"{adapter.platform} adapter", "parse", exc) from exc
    observers = pm.hook.parse_webhook.get_hookimpls() and call_hook(
        pm.hook.parse_webhook, request=request, adapter=adapter)
    for answer in observers or ():
        if answer is not None:
            logger.warning("ignoring a parse_webhook result from a plugin: only the App's "
                           "adapter parses its deliveries")
    return _checked(result, adapter)


def _checked(result, adapter) -> ParseResult:
    def broken(problem: str) -> PluginError:
        return PluginError(f"{adapter.platform} adapter", "parse", TypeError(problem))

    if not isinstance(result, ParseResult):
        raise broken(f"returned {type(result).__name__}, not a ParseResult")
    if not isinstance(result.messages, list) or not isinstance(result.reason, str):
        raise broken("its ParseResult needs a list of messages and a reason string")
    if result.challenge is not None and result.messages:
        raise broken("a challenge response carries no messages")
    if not isinstance(result.meta, dict):
        raise broken("its meta is not a dict")
    try:
        result.meta = clean_json(result.meta)
    except NotAMessage as exc:
        raise broken(f"its meta is not JSON: {exc}") from None
    for number, message in enumerate(result.messages, 1):
        try:
            check_message(message)
        except NotAMessage as exc:
            where = "the message" if len(result.messages) == 1 else f"message {number}"
            raise MalformedDelivery(f"{where} does not fit orqo's message format: {exc}") \
                from None
    return result


def call_hook(caller, **kwargs) -> list:
    """Call every implementation of a per-delivery hook through pluggy (so hook wrappers and
    tracing work); an exception is a :class:`PluginError` naming the plugin that raised."""
    try:
        return caller(**kwargs)
    except Exception as exc:  # noqa: BLE001 - a plugin's failure, named
        raise PluginError(failing_plugin(caller, exc), caller.name, exc) from exc


def record(pipeline: Pipeline, delivery: dict, started: float, outcome: str, status: int,
           reason: str = "") -> int:
    """Store a delivery that routes nothing, with its outcome; its id."""
    delivery.update(outcome=outcome, status_code=status, reason=clean_text(reason),
                    duration_ms=(time.perf_counter() - started) * 1000)
    delivery_id = pipeline.store.write_delivery(delivery)
    count(DELIVERIES, delivery["app_id"], outcome)
    DELIVERY_SECONDS.observe(time.perf_counter() - started)
    logger.log(logging.DEBUG if status < 400 else logging.INFO, "delivery %s to app %s: %s %s",
               delivery_id, delivery["app_id"], outcome, reason)
    return delivery_id


def refuse(pipeline: Pipeline, delivery: dict, started: float, outcome: str, status: int,
           reason: str, headers=None, *, proven: bool = True) -> Response:
    """Record a delivery that routes nothing and answer it: 4xx for good, 503 to be retried,
    200 for an unsigned ping. One that is not ``proven`` genuine (its signature not checked
    or wrong) is counted, sampled and rate-limited (:mod:`orqo.rejections`), not stored."""
    if proven:
        record(pipeline, delivery, started, outcome, status, reason)
    else:
        decision = pipeline.rejections.note(delivery["app_id"], delivery["client_address"],
                                            outcome, status, clean_text(reason),
                                            delivery["received_at"])
        if decision.limited:
            count(DELIVERIES, delivery["app_id"], "rate_limited")
            return error_response(
                429, "rate_limited", "Too many deliveries from this address were refused; "
                "slow down.", headers={"Retry-After": str(decision.retry_after)})
        if decision.sample:
            record(pipeline, delivery, started, outcome, status, reason)
        else:
            count(DELIVERIES, delivery["app_id"], outcome)
    if status < 400:
        return answer({"outcome": "accepted", "reason": reason, "messages": []})
    if status == 503:
        logger.error("delivery to app %s: %s", delivery["app_id"], reason)
        return error_response(
            503, outcome, "The App's adapter could not handle the delivery; retry later.",
            headers={"Retry-After": str(pipeline.retry_after)})
    return error_response(status, outcome, reason, headers=headers)


def init_app(app, pm, adapters: dict) -> None:
    """Set up the pipeline of ``app`` and register the webhook blueprint."""
    from orqo.extensions import db

    with app.app_context():
        engine = db.engine
    store = Store(engine, sender_limit=int(app.config["SENDER_RATE_LIMIT"] or 0))
    app.extensions["orqo.pipeline"] = Pipeline(
        pm=pm, adapters=adapters, handlers=handlers_in_order(pm),
        apps=AppCache(store.connection, float(app.config["APP_CACHE_SECONDS"])),
        store=store, sender_limit=store.sender_limit,
        push_enabled=bool(app.config.get("AGENT_PUSH_URL")),
        retry_after=int(app.config["RETRY_AFTER_SECONDS"]),
        rejections=Rejections(
            store, window=int(app.config["REJECTION_WINDOW_SECONDS"]),
            samples=int(app.config["REJECTION_SAMPLES"]),
            sources=int(app.config["REJECTION_SOURCES"]),
            rate_limit=int(app.config["REJECTION_RATE_LIMIT"])),
        ledger_body_bytes=int(app.config["LEDGER_BODY_BYTES"]),
    )
    app.register_blueprint(bp)
