"""Liveness and readiness endpoints for load balancers and container healthchecks."""
from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import jsonify
from sqlalchemy import text

from orqo.database import current_revision
from orqo.database import head_revision
from orqo.errors import error_response
from orqo.extensions import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive and serving requests."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """Ready to take deliveries: the database answers, its schema is at this orqo's newest
    migration, and the plugins are loaded; 503 with the failing checks otherwise."""
    db.session.execute(text("SELECT 1"))  # unreachable: the database error handler answers 503
    current, head = current_revision(), head_revision()
    db.session.rollback()
    checks = {
        "database": "ok",
        "migrations": "ok" if current == head else f"at {current}, expected {head}",
        "plugins": "ok" if current_app.extensions.get("orqo") else "not loaded",
    }
    if any(value != "ok" for value in checks.values()):
        return error_response(503, "not_ready", "orqo is not ready.", checks,
                              headers={"Retry-After": str(current_app.config["RETRY_AFTER_SECONDS"])})
    return jsonify({"status": "ready", "checks": checks})


def init_app(app):
    """Register the health endpoints."""
    app.register_blueprint(bp)
