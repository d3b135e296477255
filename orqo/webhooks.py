"""The inbound webhook endpoint platforms call: ``/api/v1/webhooks/<app_id>``."""
from __future__ import annotations

from flask import Blueprint
from flask import request
from werkzeug.exceptions import MethodNotAllowed

from orqo.pipeline import DeliveryFlow

bp = Blueprint("webhooks", __name__, url_prefix="/api/v1/webhooks")


@bp.route("/<app_id>", methods=["POST", "GET"])
def receive(app_id: str):
    """Receive one delivery (GET only for platform handshakes such as Meta's)."""
    if request.method == "HEAD":  # Flask adds HEAD to GET routes; no platform sends it
        raise MethodNotAllowed(valid_methods=["GET", "POST"])
    return DeliveryFlow(app_id).run()


def init_app(app):
    """Register the webhook blueprint."""
    app.register_blueprint(bp)
