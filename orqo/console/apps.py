"""The console's Apps pages: the list with each webhook URL and how each App is doing, one
App's page (settings, activity, rotating its credentials, turning it off and on), creating,
deleting."""
from __future__ import annotations

from flask import current_app
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from orqo.console import bp
from orqo.console.forms import GRACE_UNITS
from orqo.console.forms import adapter_fields
from orqo.console.forms import credential_fields
from orqo.console.forms import grace_seconds
from orqo.console.forms import submitted_settings
from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import as_utc
from orqo.models import utcnow
from orqo.services import apps as apps_service


@bp.route("/apps")
def apps_page():
    """Every App with its full webhook URL, whether it is on, its last delivery and its
    error rate over the last 24 hours."""
    apps = apps_service.describe_apps(apps_service.list_apps())
    return render_template("console/apps.html", apps=apps)


@bp.route("/apps/<app_id>")
def app_page(app_id):
    """One App: its settings (which credentials are set, never their values), the webhook URL
    to copy, its activity, a running grace period, and the forms to rotate its credentials,
    turn it off or on, and delete it."""
    return render_app(apps_service.find_app_record(app_id))


def render_app(record, errors: dict | None = None, form=None, status: int = 200):
    """The App page of ``record``, with the rotation form's ``errors`` and values."""
    adapter = installed_adapters().get(record.adapter)
    until = as_utc(record.previous_credentials_until)
    return render_template(
        "console/app_show.html", app=apps_service.describe_app(record),
        inputs=credential_fields(adapter) if adapter else [], errors=errors or {},
        form=form or {}, units=GRACE_UNITS,
        grace_until=until if until and until > utcnow() else None), status


@bp.route("/apps/<app_id>/rotate", methods=["POST"])
def rotate_app_credentials(app_id):
    """Replace some of an App's credentials, keeping the old ones valid for the grace period
    given in minutes or hours (0: they stop at once)."""
    record = apps_service.find_app_record(app_id)
    adapter = installed_adapters().get(record.adapter)
    credentials, _config = submitted_settings(
        request.form, credential_fields(adapter) if adapter else [])
    try:
        record = apps_service.rotate_credentials(app_id, credentials,
                                                 grace_seconds(request.form))
    except ApiError as exc:
        errors, status = form_errors(exc)
        return render_app(apps_service.find_app_record(app_id), errors, request.form, status)
    until = as_utc(record.previous_credentials_until)
    flash(f"New credentials saved for {record.name!r}: "
          + (f"the old ones are accepted until {until:%Y-%m-%d %H:%M:%S} UTC."
             if until else "the old ones stopped at once."))
    return redirect(url_for("console.app_page", app_id=app_id))


@bp.route("/apps/<app_id>/enabled", methods=["POST"])
def switch_app(app_id):
    """Turn an App off (``enabled=false``: its deliveries are refused 403) or on again
    (``enabled=true``)."""
    wanted = request.form.get("enabled", "")
    if wanted not in ("true", "false"):
        raise ApiError(422, "validation_error", "Say whether to turn the App on or off.",
                       {"enabled": ["Must be true or false."]})
    record = apps_service.set_app_enabled(app_id, wanted == "true")
    flash(f"App {record.name!r} is " + (
        "on: its deliveries are accepted again." if record.enabled else
        "off: its deliveries are refused (403 app_disabled) until you turn it on again."))
    return redirect(url_for("console.app_page", app_id=app_id))


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
            errors, status = form_errors(exc)
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


def installed_adapters() -> dict:
    """The installed adapters by name."""
    return current_app.extensions["orqo"].adapters


def form_errors(exc: ApiError) -> tuple[dict, int]:
    """A service's refusal as a form's errors (its message, then each field's) and the page's
    status (the service's 4xx); the failed change is rolled back."""
    db.session.rollback()
    return {"": exc.message, **flat_errors(exc.details or {})}, exc.status


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
