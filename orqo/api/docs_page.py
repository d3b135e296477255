"""The API docs page: Swagger UI at ``/api/v1/docs``, reading ``/api/v1/openapi.json``.

Swagger UI's files are vendored in ``orqo/api/static/swagger-ui/`` (see the README there) and
served from this blueprint, so the page loads nothing from another host. The page is started
by a script file rather than an inline script (flask-smorest's own Swagger UI page has one),
which lets its Content-Security-Policy allow scripts from orqo only.
"""
from __future__ import annotations

from flask import Blueprint
from flask import current_app
from flask import render_template
from flask import url_for

bp = Blueprint("api_docs_page", __name__, url_prefix="/api/v1/docs",
               static_folder="static", static_url_path="/static", template_folder="templates")

#: Scripts, styles, fonts and requests from orqo only; Swagger UI sets inline styles and its
#: CSS draws icons from data: URLs.
CONTENT_SECURITY_POLICY = ("default-src 'none'; script-src 'self'; "
                           "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                           "font-src 'self'; connect-src 'self'; base-uri 'none'; "
                           "form-action 'none'; frame-ancestors 'none'")


@bp.get("")
def docs():
    """The Swagger UI page for the OpenAPI document."""
    html = render_template("api_docs/swagger_ui.html",
                           title=current_app.config["API_TITLE"],
                           version=current_app.config["API_VERSION"],
                           spec_url=url_for("api-docs.openapi_json"))
    return html, 200, {"Content-Security-Policy": CONTENT_SECURITY_POLICY}
