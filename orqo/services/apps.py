"""Creating, listing, changing, turning off and on, and describing Apps."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import case
from sqlalchemy import func
from sqlalchemy import select

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import App
from orqo.models import Delivery
from orqo.models import as_utc
from orqo.models import utcnow


def webhook_path(app_record: App) -> str:
    """The path platforms POST this App's webhooks to."""
    return f"/api/v1/webhooks/{app_record.id}"


def public_url(path: str) -> str:
    """``path`` as a full URL under the ``PUBLIC_BASE_URL`` setting (what a user pastes into a
    platform's console)."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + path


def webhook_url(app_record: App) -> str:
    """The full URL platforms POST this App's webhooks to."""
    return public_url(webhook_path(app_record))


def create_app_record(name: str, adapter: str, credentials: dict, config: dict,
                      route_to_doorkeeper: bool = True) -> App:
    """Validate and save a new App; 422 with field details when anything is invalid."""
    adapters = current_app.extensions["orqo"].adapters
    errors = {}
    if not name or not name.strip() or len(name) > 200:
        errors["name"] = ["A name of 1 to 200 characters is required."]
    if adapter not in adapters:
        installed = ", ".join(sorted(adapters)) or "none"
        errors["adapter"] = [f"No installed adapter is called {adapter!r} (installed: {installed})."]
    else:
        try:
            credentials, config = adapters[adapter].validate_settings(credentials, config)
        except ValidationError as exc:
            errors.update(exc.messages)
    if errors:
        raise ApiError(422, "validation_error", "The App is not valid.", errors)
    app_record = App(name=name.strip(), adapter=adapter, credentials=credentials, config=config,
                     route_to_doorkeeper=route_to_doorkeeper)
    db.session.add(app_record)
    db.session.commit()
    return app_record


def list_apps() -> list[App]:
    """Every App, oldest first."""
    return list(db.session.scalars(select(App).order_by(App.created_at, App.id)))


#: Delivery outcomes that are not errors: the rest (a wrong signature, a malformed body, an
#: adapter that failed, an unsigned ping) count in an App's error rate.
FINE_OUTCOMES = ("accepted", "challenge")
#: How far back an App's activity counts deliveries and errors.
ACTIVITY_WINDOW = timedelta(hours=24)


def app_activity(app_ids: list[str] | None = None) -> dict[str, dict]:
    """How each App is doing, from the ledger in one statement: ``{app_id:
    {"last_delivery_at", "deliveries_24h", "errors_24h", "error_rate_24h"}}``.

    Every existing App asked for (all Apps when ``app_ids`` is None) has an entry; one without
    any delivery has ``last_delivery_at`` None and an ``error_rate_24h`` of None (no rate of
    nothing). Refusals past :mod:`orqo.rejections`' samples are counted on the rejections
    page, not in the ledger, so they are not in these figures.
    """
    # One grouped pass over the last day's deliveries (the received_at index), and each App's
    # newest delivery through the (app_id, id) index: the Apps list never reads a whole ledger.
    recent = (select(Delivery.app_id, func.count().label("deliveries"),
                     func.sum(case((Delivery.outcome.not_in(FINE_OUTCOMES), 1), else_=0))
                     .label("errors"))
              .where(Delivery.received_at >= utcnow() - ACTIVITY_WINDOW)
              .group_by(Delivery.app_id).subquery())
    newest = (select(Delivery.received_at).where(Delivery.app_id == App.id)
              .order_by(Delivery.id.desc()).limit(1).correlate(App).scalar_subquery())
    query = (select(App.id, newest, recent.c.deliveries, recent.c.errors)
             .outerjoin(recent, recent.c.app_id == App.id))
    if app_ids is not None:
        query = query.where(App.id.in_(app_ids))
    return {row[0]: activity_of(*row[1:]) for row in db.session.execute(query)}


def activity_of(last_at, deliveries, errors) -> dict:
    """One App's activity entry from its grouped row."""
    deliveries, errors = int(deliveries or 0), int(errors or 0)
    return {
        "last_delivery_at": as_utc(last_at).isoformat() if last_at else None,
        "deliveries_24h": deliveries,
        "errors_24h": errors,
        "error_rate_24h": round(errors / deliveries, 4) if deliveries else None,
    }


def describe_apps(records: list[App]) -> list[dict]:
    """Several Apps as :func:`describe_app` shows them, their activity read in one query."""
    activity = app_activity([record.id for record in records]) if records else {}
    return [describe_app(record, activity.get(record.id) or activity_of(None, 0, 0))
            for record in records]


def describe_app(app_record: App, activity: dict | None = None) -> dict:
    """An App as shown to operators: credentials are never shown, only which keys are set;
    with its :func:`app_activity` (read now unless given)."""
    if activity is None:
        activity = app_activity([app_record.id]).get(app_record.id) or activity_of(None, 0, 0)
    return {
        "id": app_record.id,
        "name": app_record.name,
        "adapter": app_record.adapter,
        "enabled": app_record.enabled,
        "webhook_path": webhook_path(app_record),
        "webhook_url": webhook_url(app_record),
        "credentials_set": sorted(app_record.credentials or {}),
        "config": app_record.config or {},
        "route_to_doorkeeper": app_record.route_to_doorkeeper,
        "previous_credentials_until": (
            as_utc(app_record.previous_credentials_until).isoformat()
            if app_record.previous_credentials_until else None),
        "created_at": as_utc(app_record.created_at).isoformat(),
        "activity": activity,
    }


def find_app_record(app_id: str) -> App:
    """The App with ``app_id``; 404 when there is none."""
    app_record = db.session.get(App, app_id)
    if app_record is None:
        raise ApiError(404, "not_found", f"No App has the id {app_id!r}.")
    return app_record


def rotate_credentials(app_id: str, credentials: dict, keep_previous_for: float) -> App:
    """Replace some or all of an App's credentials, keeping the old set valid for a while.

    :param credentials: the new values (keys not given keep their value).
    :param keep_previous_for: seconds during which deliveries signed with the old credentials
        are still accepted (0 ends the old credentials at once, and any earlier grace period
        with them).
    """
    app_record = find_app_record(app_id)
    if not credentials:
        raise ApiError(422, "validation_error", "Nothing to rotate.",
                       {"credentials": ["Give at least one new credential."]})
    if keep_previous_for < 0 or keep_previous_for > 30 * 86400:
        raise ApiError(422, "validation_error", "The grace period is not valid.",
                       {"keep_previous_for": ["Must be between 0 and 2592000 seconds."]})
    adapter = installed_adapter(app_record)
    merged = {**(app_record.credentials or {}), **credentials}
    try:
        merged, _config = adapter.validate_settings(merged, app_record.config or {})
    except ValidationError as exc:
        raise ApiError(422, "validation_error", "The credentials are not valid.",
                       exc.messages) from None
    # A rotation replaces any earlier grace period: the credentials before the current ones
    # stop now, and with keep_previous_for 0 so do the current ones.
    end_grace_period(app_record)
    if keep_previous_for:
        app_record.previous_credentials = app_record.credentials
        app_record.previous_credentials_until = utcnow() + timedelta(seconds=keep_previous_for)
    app_record.credentials = merged
    db.session.commit()
    return app_record


def set_app_enabled(app_id: str, enabled: bool) -> App:
    """Turn an App on or off. A disabled App's deliveries are answered 403 ``app_disabled``
    and route nothing, and no new message can be queued to send through it (409); what was
    queued already is still sent. Every worker sees the change within ``APP_CACHE_SECONDS``."""
    return update_app_record(app_id, {"enabled": enabled})


def update_app_record(app_id: str, changes: dict) -> App:
    """Change an App's name, credentials (given keys replaced), config, Doorkeeper setting or
    whether it is ``enabled`` (see :func:`set_app_enabled`).

    The result is validated by the adapter's schemas exactly as when it was created (422).
    New credentials end a rotation's grace period: the previous credentials stop at once.
    A config that changes where the credentials are sent (the adapter's
    :meth:`~orqo.adapters.Adapter.credentials_destination`) must come with every credential
    given again (else 422), so that a changed setting never carries stored secrets to a new
    host.
    """
    app_record = find_app_record(app_id)
    if "name" in changes:
        if not changes["name"].strip() or len(changes["name"]) > 200:
            raise ApiError(422, "validation_error", "The App is not valid.",
                           {"name": ["A name of 1 to 200 characters is required."]})
        app_record.name = changes["name"].strip()
    if "route_to_doorkeeper" in changes:
        app_record.route_to_doorkeeper = changes["route_to_doorkeeper"]
    if "enabled" in changes:
        app_record.enabled = bool(changes["enabled"])
    if "credentials" in changes or "config" in changes:
        adapter = installed_adapter(app_record)
        given = changes.get("credentials", {})
        credentials = {**(app_record.credentials or {}), **given}
        try:
            credentials, config = adapter.validate_settings(
                credentials, changes.get("config", app_record.config or {}))
        except ValidationError as exc:
            db.session.rollback()
            raise ApiError(422, "validation_error", "The App is not valid.", exc.messages) from None
        moved = require_credentials_for_new_destination(adapter, app_record, config, given)
        app_record.credentials, app_record.config = credentials, config
        if "credentials" in changes or moved:
            end_grace_period(app_record)
    db.session.commit()
    return app_record


def installed_adapter(app_record: App):
    """The adapter class of the App's platform; 422 when it is not installed."""
    adapter = current_app.extensions["orqo"].adapters.get(app_record.adapter)
    if adapter is None:
        db.session.rollback()
        raise ApiError(422, "validation_error", "The App's adapter is not installed.",
                       {"adapter": [f"{app_record.adapter!r} is not installed."]})
    return adapter


def require_credentials_for_new_destination(adapter, app_record: App, config: dict,
                                            given: dict) -> bool:
    """Whether ``config`` sends the App's credentials somewhere else than its stored config
    does; then 422 unless ``given`` holds every credential of the App again (issue 15,
    finding 4)."""
    if adapter.credentials_destination(config) == adapter.credentials_destination(
            app_record.config or {}):
        return False
    missing = sorted(set(app_record.credentials or {}) - set(given))
    if missing:
        db.session.rollback()
        raise ApiError(422, "validation_error", "The App is not valid.", {"credentials": [
            "This config changes where the App's credentials are sent, so the stored ones are "
            "not carried over: give every credential again in the same request (missing: "
            + ", ".join(missing) + ")."]})
    return True


def end_grace_period(app_record: App) -> None:
    """Drop the credentials a rotation kept valid: only the current ones are accepted now."""
    app_record.previous_credentials = None
    app_record.previous_credentials_until = None


def delete_app_record(app_id: str) -> None:
    """Delete an App with its Channels, ledger, waitboxes and conversations."""
    db.session.delete(find_app_record(app_id))
    db.session.commit()
