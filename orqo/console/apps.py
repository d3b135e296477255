"""The console's Apps pages: the list with each webhook URL, creating, deleting."""
from __future__ import annotations

from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from orqo.console import bp
from orqo.console.forms import adapter_fields
from orqo.console.forms import submitted_settings
from orqo.errors import ApiError
from orqo.extensions import db
from orqo.services import apps as apps_service


@bp.route("/apps")
def apps_page():
    """Every App with its full webhook URL."""
    apps = [apps_service.describe_app(record) for record in apps_service.list_apps()]
    return render_template("console/apps.html", apps=apps)


def installed_adapters() -> dict:
    return current_app.extensions["orqo"].adapters


@bp.route("/apps/new", methods=["GET", "POST"])
def new_app():
    """Create an App: first its adapter, then that adapter's credential and config fields."""
    adapters = installed_adapters()
    source = request.form if request.method == "POST" else request.args
    adapter_name = source.get("adapter", "")
    adapter = adapters.get(adapter_name)
    if adapter is None:
        return render_template("console/app_adapter.html", adapters=adapters,
                               unknown=adapter_name or None), 200 if not adapter_name else 422
    inputs = adapter_fields(adapter)
    errors, status = {}, 200
    if request.method == "POST":
        credentials, config = submitted_settings(request.form, inputs)
        try:
            record = apps_service.create_app_record(
                request.form.get("name", ""), adapter_name, credentials, config,
                route_to_doorkeeper="route_to_doorkeeper" in request.form)
        except ApiError as exc:
            db.session.rollback()
            errors, status = {"": exc.message, **flat_errors(exc.details or {})}, exc.status
        else:
            flash(f"App {record.name!r} created. Its webhook URL: {apps_service.webhook_url(record)}")
            return redirect(url_for("console.apps_page", _anchor=f"app-{record.id}"))
    return render_template("console/app_new.html", adapter=adapter, adapter_name=adapter_name,
                           inputs=inputs, errors=errors, form=request.form), status


@bp.route("/apps/<app_id>/delete", methods=["GET", "POST"])
def delete_app(app_id):
    """Ask, then delete an App with its Channels and ledger."""
    record = apps_service.find_app_record(app_id)
    if request.method == "POST":
        name = record.name
        apps_service.delete_app_record(app_id)
        flash(f"App {name!r} and its ledger were deleted.")
        return redirect(url_for("console.apps_page"))
    return render_template("console/app_delete.html", app=apps_service.describe_app(record))


def flat_errors(details, prefix="") -> dict:
    """A service's nested 422 details as ``{"credentials.signing_secret": "..."}``."""
    flat = {}
    for key, value in details.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flat_errors(value, name))
        else:
            flat[name] = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return flat
