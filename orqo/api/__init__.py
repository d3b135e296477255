"""The JSON API under ``/api/v1``, built with flask-smorest so that the OpenAPI document at
``/api/v1/openapi.json`` is generated from the same marshmallow schemas that validate requests.

* :mod:`orqo.api.auth`: bearer tokens and scopes;
* :mod:`orqo.api.schemas`: request and response schemas;
* :mod:`orqo.api.waitboxes`, :mod:`orqo.api.doorkeeper`, :mod:`orqo.api.messages`: the
  agent side;
* :mod:`orqo.api.triggers`, :mod:`orqo.api.runs`: starting workflow runs, and their queue;
* :mod:`orqo.api.admin`: the management API;
* :mod:`orqo.api.docs_page`: the Swagger UI page at ``/api/v1/docs``.
"""
from __future__ import annotations

import flask_smorest
from flask_smorest import Api
from marshmallow import Schema
from marshmallow import fields
from sqlalchemy.exc import IntegrityError

from orqo import __version__
from orqo.bodies import OrqoParser
from orqo.errors import concurrent_change

#: Headers on an answer that shows a secret once (a new API token, a new token URL): no cache
#: on the way (a proxy, the client's disk) may keep a copy of it.
SHOWN_ONCE = {"Cache-Control": "no-store"}


class ErrorDetail(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Raw(required=True, metadata={
        "description": "Field-level details for validation errors; {} otherwise."})


class ErrorOut(Schema):
    """orqo's one error shape."""

    error = fields.Nested(ErrorDetail, required=True)


class OrqoApi(Api):
    """flask-smorest's Api, leaving error responses to :mod:`orqo.errors` (one shape for all)
    and documenting that shape as every operation's default response."""

    ERROR_SCHEMA = ErrorOut

    def _register_error_handlers(self):
        pass


api = OrqoApi()


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, reading JSON bodies with orqo's one reader (bad JSON of any
    kind is a 422 ``invalid_json``; see :mod:`orqo.bodies`). Every API module uses it."""

    ARGUMENTS_PARSER = OrqoParser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only on the API: a webhook refused by a constraint stays a 5xx the platform retries.
        self.register_error_handler(IntegrityError, concurrent_change)


def init_app(app):
    """Configure the OpenAPI document and register the API blueprints."""
    from orqo.api import docs_page
    from orqo.api import doorkeeper
    from orqo.api import messages
    from orqo.api import runs
    from orqo.api import triggers
    from orqo.api import waitboxes

    app.config.setdefault("API_TITLE", "orqo")
    app.config.setdefault("API_VERSION", __version__)
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api.init_app(app, spec_kwargs={"components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer"}}}})
    from orqo.api.admin import BLUEPRINTS

    for blueprint in (waitboxes.bp, messages.bp, doorkeeper.bp, triggers.bp, runs.bp, *BLUEPRINTS):
        api.register_blueprint(blueprint)
    # A plain Flask blueprint: the page is not an API operation and not in the document.
    app.register_blueprint(docs_page.bp)
