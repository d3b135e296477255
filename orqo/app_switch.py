"""Refusing the deliveries of an App an operator turned off (``apps.enabled`` false).

A disabled App's deliveries, POSTs and GET handshakes alike, are answered 403 ``app_disabled``
before anything is verified or routed. They are counted where other refusals are, in the
per-App window counts of :mod:`orqo.rejections` (outcome ``app_disabled``, shown by the
rejections page, ``GET /api/v1/rejections`` and ``orqo rejections list``), under the same
per-address rate limit, and in the ``orqo_deliveries_total`` metric. None is written to the
ledger: nothing about it was checked, and a platform retrying into a switched-off App must not
grow the database.
"""
from __future__ import annotations

from flask import Response
from flask import request

from orqo.errors import error_response
from orqo.messages import clean_text
from orqo.metrics import DELIVERIES
from orqo.models import utcnow

OUTCOME = "app_disabled"


def disabled_message(app_id: str) -> str:
    """What a refused delivery's answer says: who turned the App off and how to turn it on."""
    return (f"An operator turned App {app_id} off, so its deliveries are refused and nothing "
            f"is routed. Turn it on again with `orqo apps enable {app_id}`, the App's page in "
            f"the console, or PATCH /api/v1/apps/{app_id} with {{\"enabled\": true}}.")


def refuse_disabled(pipeline, app_id: str) -> Response:
    """Count and answer one delivery to a disabled App: 403, or 429 past the rate limit of
    refusals from one address (:class:`orqo.rejections.Rejections`)."""
    message = disabled_message(app_id)
    decision = pipeline.rejections.note(app_id, request.remote_addr, OUTCOME, 403,
                                        clean_text(message), utcnow())
    if decision.limited:
        DELIVERIES.labels(app_id, "rate_limited").inc()
        return error_response(429, "rate_limited", "Too many deliveries from this address "
                              "were refused; slow down.",
                              headers={"Retry-After": str(decision.retry_after)})
    DELIVERIES.labels(app_id, OUTCOME).inc()
    return error_response(403, OUTCOME, message)
