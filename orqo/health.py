"""Liveness and readiness endpoints for load balancers and container healthchecks."""
from __future__ import annotations

from flask import Blueprint
from flask import jsonify
from sqlalchemy import text

from orqo.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive and serving requests."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready to take deliveries: the database answers (503 otherwise)."""
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
    return jsonify({"status": "ready"})


def init_app(app):
    """Register the health endpoints."""
    app.register_blueprint(bp)
