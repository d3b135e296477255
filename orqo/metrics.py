"""Prometheus metrics at ``/metrics``, correct across gunicorn workers.

gunicorn.conf.py sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, so every worker
writes its samples there and a scrape of any worker adds them all up (prometheus_client's
multiprocess mode). Queue depths are read from the database at scrape time, so they are the
same whichever worker answers.
"""
from __future__ import annotations

import os

from flask import Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import CollectorRegistry
from prometheus_client import Counter
from prometheus_client import Histogram
from prometheus_client import generate_latest
from prometheus_client import multiprocess
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func
from sqlalchemy import select

from orqo.extensions import db

DELIVERIES = Counter("orqo_deliveries_total", "Webhook deliveries by App and outcome.",
                     ["app_id", "outcome"])
MESSAGES = Counter("orqo_messages_total", "Messages by App, outcome and handler.",
                   ["app_id", "outcome", "handler"])
DELIVERY_SECONDS = Histogram("orqo_delivery_seconds",
                             "Time from receiving a webhook delivery to answering it.",
                             buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))


class QueueDepthCollector:
    """Pending pushes, queued Doorkeeper messages, queued runs and messages waiting to be
    sent through the platforms, counted at scrape time."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        """One gauge, labelled by queue."""
        from orqo.models import ConversationEntry
        from orqo.models import PushDelivery
        from orqo.models import Send
        from orqo.models import WorkflowRun

        gauge = GaugeMetricFamily("orqo_queue_depth", "Items waiting in each queue.",
                                  labels=["queue"])
        with self.app.app_context():
            try:
                for queue, model, status in (("push", PushDelivery, "pending"),
                                             ("doorkeeper", ConversationEntry, "queued"),
                                             ("runs", WorkflowRun, "queued"),
                                             ("sends", Send, "queued")):
                    count = db.session.scalar(select(func.count()).select_from(model)
                                              .where(model.status == status))
                    gauge.add_metric([queue], count)
            finally:
                db.session.remove()
        yield gauge


def init_app(app):
    """Serve ``/metrics``."""
    @app.get("/metrics")
    def metrics():
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        else:
            registry = CollectorRegistry()
            for collector in (DELIVERIES, MESSAGES, DELIVERY_SECONDS):
                registry.register(collector)
        registry.register(QueueDepthCollector(app))
        return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
