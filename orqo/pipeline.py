"""One webhook delivery, from raw bytes to a committed ledger entry and the platform's answer.

verify (raw bytes) -> parse -> per message: contact gate -> dedupe -> route; the ledger rows,
the dedupe claims and the routing results commit in one transaction before the 2xx goes out.
"""
from __future__ import annotations

import logging
import re
import time
from datetime import datetime

from flask import Response
from flask import current_app
from flask import jsonify
from flask import request

from orqo.dispatch import RoutingError
from orqo.dispatch import parse_delivery
from orqo.dispatch import verify_delivery
from orqo.errors import ApiError
from orqo.errors import MalformedDelivery
from orqo.errors import PluginError
from orqo.errors import error_response
from orqo.extensions import db
from orqo.intake import admit
from orqo.metrics import DELIVERIES
from orqo.metrics import MESSAGES
from orqo.metrics import STAGE_SECONDS
from orqo.models import App
from orqo.models import Delivery
from orqo.models import utcnow
from orqo.stages import StageRequest

logger = logging.getLogger(__name__)

APP_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def find_app(app_id: str) -> App:
    """The App a webhook was sent to; 404 (and nothing written) when there is none."""
    found = db.session.get(App, app_id) if APP_ID.match(app_id) else None
    if found is None:
        raise ApiError(404, "unknown_app", f"No App has the id {app_id!r}.")
    return found


def stage_request_from_flask(app_record: App, received_at: datetime) -> StageRequest:
    """The current Flask request as stage data; reads the raw body (413 over the limit)."""
    return StageRequest(
        app_id=app_record.id,
        adapter=app_record.adapter,
        method=request.method,
        path=request.path,
        query=[[key, value] for key, value in request.args.items(multi=True)],
        headers=[[key, value] for key, value in request.headers.items()],
        body=request.get_data(cache=False),
        credentials=dict(app_record.credentials or {}),
        config=dict(app_record.config or {}),
        received_at=received_at.timestamp(),
        previous_credentials=app_record.credentials_still_accepted(received_at),
    )


class DeliveryFlow:
    """The handling of one delivery; :meth:`run` returns the platform's response."""

    def __init__(self, app_id: str):
        self.started = time.perf_counter()
        self.received_at = utcnow()
        self.app_record = find_app(app_id)
        self.app_id = self.app_record.id
        self.delivery_id = None
        self.state = current_app.extensions["orqo"]
        self.delivery = Delivery(
            app_id=self.app_record.id, received_at=self.received_at, method=request.method,
            client_address=request.remote_addr,
        )

    def run(self) -> Response:
        """Verify, parse, gate, dedupe, route, commit; answer accordingly."""
        stage_request = stage_request_from_flask(self.app_record, self.received_at)
        adapter = self.state.adapters.get(self.app_record.adapter)
        if adapter is None:
            return self.adapter_error(f"adapter {self.app_record.adapter!r} is not installed")
        try:
            with STAGE_SECONDS.labels("verify").time():
                verdict = verify_delivery(self.state.pm, stage_request, adapter)
            if not verdict.accepted:
                self.finish("rejected_signature", verdict.status, verdict.reason)
                return error_response(verdict.status, "rejected_signature", verdict.reason,
                                      headers=adapter.error_headers)
            with STAGE_SECONDS.labels("parse").time():
                result = parse_delivery(self.state.pm, stage_request, adapter)
        except MalformedDelivery as exc:
            self.finish("malformed", 400, str(exc))
            return error_response(400, "malformed", str(exc), headers=adapter.error_headers)
        except PluginError as exc:
            logger.error("adapter stage failed: %s", exc)
            return self.adapter_error(str(exc))

        self.delivery.meta = result.meta
        if result.challenge is not None:
            challenge = result.challenge
            self.finish("challenge", challenge.status)
            return Response(challenge.body, challenge.status, content_type=challenge.content_type)

        self.add_delivery()
        try:
            with STAGE_SECONDS.labels("route").time():
                outcomes = [self.process(message) for message in result.messages]
        except RoutingError as exc:
            # Nothing is kept, so nothing may be acknowledged: the platform retries.
            db.session.rollback()
            logger.error("delivery to app %s not routed: %s", self.app_id, exc)
            return error_response(
                503, "routing_failed", "No handler could take a message; retry later.",
                headers={"Retry-After": str(current_app.config["RETRY_AFTER_SECONDS"])},
            )
        reason = "" if outcomes else (result.reason or "nothing to route")
        self.finish("accepted", 200, reason)
        for outcome in outcomes:  # counted once committed
            MESSAGES.labels(self.app_id, outcome["outcome"], outcome["handler"] or "").inc()
        return jsonify({
            "delivery_id": self.delivery_id,
            "outcome": "accepted",
            "messages": outcomes,
        })

    def add_delivery(self) -> None:
        self.delivery.outcome = "accepted"
        self.delivery.status_code = 200
        db.session.add(self.delivery)

    def process(self, message) -> dict:
        """Gate, dedupe and route one message; return its outcome for the response."""
        record = admit(self.app_id, self.delivery, message)
        return {"outcome": record.outcome, "handler": record.handler}

    def finish(self, outcome: str, status: int, reason: str = "") -> None:
        """Record the delivery's outcome and commit everything."""
        if self.delivery not in db.session:
            db.session.add(self.delivery)
        self.delivery.outcome = outcome
        self.delivery.status_code = status
        self.delivery.reason = reason
        self.delivery.duration_ms = (time.perf_counter() - self.started) * 1000
        db.session.flush()
        # Read before the commit expires them: reading after would reload both rows, in a new
        # transaction (on SQLite another BEGIN IMMEDIATE: the write lock taken again).
        self.delivery_id = self.delivery.id
        with STAGE_SECONDS.labels("commit").time():
            db.session.commit()
        DELIVERIES.labels(self.app_id, outcome).inc()
        STAGE_SECONDS.labels("total").observe(time.perf_counter() - self.started)
        logger.info("delivery %s to app %s: %s %s", self.delivery_id, self.app_id, outcome,
                    reason)

    def adapter_error(self, reason: str) -> Response:
        """Record ``adapter_error`` and ask the platform to retry later."""
        db.session.rollback()
        self.delivery = Delivery(
            app_id=self.app_id, received_at=self.received_at, method=request.method,
            client_address=request.remote_addr,
        )
        retry_after = current_app.config["RETRY_AFTER_SECONDS"]
        self.finish("adapter_error", 503, reason)
        return error_response(
            503, "adapter_error", "The App's adapter could not handle the delivery; retry later.",
            headers={"Retry-After": str(retry_after)},
        )
