"""The per-delivery hook call sites: verify, parse and route, with orqo's rules for each.

* verify: the App's own adapter must accept; any plugin may veto.
* parse: only the App's own adapter's answer counts; it is validated against the schema.
* route: handlers in hook order, each in a savepoint; a failing one is skipped.
"""
from __future__ import annotations

import dataclasses
import logging

from marshmallow import ValidationError

from orqo.adapters import Adapter
from orqo.errors import MalformedDelivery
from orqo.errors import PluginError
from orqo.extensions import db
from orqo.handlers import Route
from orqo.plugins import ADAPTER_STAGE_PLUGIN
from orqo.plugins import call_each
from orqo.plugins import hook_calls
from orqo.schemas import ParseResultSchema
from orqo.stages import ParseResult
from orqo.stages import StageRequest
from orqo.stages import Verdict

logger = logging.getLogger(__name__)

_PARSE_RESULT = ParseResultSchema()


class RoutingError(Exception):
    """No handler took a message (even Doorkeeper failed): nothing may be acknowledged."""


def _naming_adapter(exc: PluginError, adapter: Adapter) -> PluginError:
    """The built-in stage plugin only relays the App's adapter: name the adapter instead."""
    if exc.plugin != ADAPTER_STAGE_PLUGIN:
        return exc
    return PluginError(f"{adapter.platform} adapter", exc.hook, exc.error)


def verify_delivery(pm, request: StageRequest, adapter: Adapter) -> Verdict:
    """Run the verify stage; the delivery passes only if its adapter accepted and none rejected.

    Raises :class:`PluginError` when an implementation raises or answers something that is
    not a :class:`Verdict`.
    """
    adapter_verdict = None
    try:
        verdicts = call_each(pm.hook.verify_webhook, request=request, adapter=adapter)
    except PluginError as exc:
        raise _naming_adapter(exc, adapter) from exc.error
    for plugin_name, verdict in verdicts:
        if not isinstance(verdict, Verdict) or not (
                verdict.accepted or 400 <= verdict.status <= 499):
            raise _naming_adapter(PluginError(plugin_name, "verify_webhook", TypeError(
                f"returned {verdict!r}, not a Verdict (rejections need a 4xx status)")), adapter)
        if not verdict.accepted:
            return verdict
        if plugin_name == ADAPTER_STAGE_PLUGIN:
            adapter_verdict = verdict
    if adapter_verdict is None:
        return Verdict.reject("the App's adapter did not verify the delivery")
    return adapter_verdict


def parse_delivery(pm, request: StageRequest, adapter: Adapter) -> ParseResult:
    """Run the parse stage and return the App's adapter's validated :class:`ParseResult`.

    Raises :class:`MalformedDelivery` for a body the adapter refused, :class:`PluginError`
    when an implementation failed or its answer does not match the schema.
    """
    result = None
    try:
        answers = call_each(pm.hook.parse_webhook, request=request, adapter=adapter)
    except PluginError as exc:
        if isinstance(exc.error, MalformedDelivery):
            raise exc.error from None
        raise _naming_adapter(exc, adapter) from exc.error
    for plugin_name, answer in answers:
        if plugin_name == ADAPTER_STAGE_PLUGIN:
            result = answer
        else:
            logger.warning("ignoring a parse result from plugin %r: only the App's adapter "
                           "parses its deliveries", plugin_name)
    if not isinstance(result, ParseResult):
        raise PluginError(f"{adapter.platform} adapter", "parse_webhook",
                          TypeError(f"returned {type(result).__name__}, not a ParseResult"))
    try:
        return _PARSE_RESULT.load(dataclasses.asdict(result))
    except ValidationError as exc:
        raise PluginError(f"{adapter.platform} adapter", "parse_webhook",
                          ValueError(f"invalid parse result: {exc.messages}")) from None


def route_message(pm, app, message, record, contact_id: int) -> Route:
    """Offer a message to each handler in hook order; return the first :class:`Route`.

    Each handler runs in a savepoint: a handler that raises has its writes rolled back and is
    skipped. Raises :class:`RoutingError` if no handler took the message.
    """
    for plugin_name, call in hook_calls(
        pm.hook.route_message, app=app, message=message, record=record, contact_id=contact_id
    ):
        savepoint = db.session.begin_nested()
        try:
            route = call()
            if route is not None and (not isinstance(route, Route)
                                      or route.outcome not in ("routed", "no_route")):
                raise PluginError(plugin_name, "route_message",
                                  TypeError(f"returned {route!r}, not a Route"))
        except PluginError as exc:
            savepoint.rollback()
            logger.error("routing handler failed and was skipped: %s", exc)
            continue
        savepoint.commit()
        if route is not None:
            return route
    raise RoutingError(f"no handler took message {record.id}")
