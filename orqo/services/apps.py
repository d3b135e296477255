"""Creating and listing Apps."""
from __future__ import annotations

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import select

from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import App
from orqo.models import as_utc


def webhook_path(app_record: App) -> str:
    """The path platforms POST this App's webhooks to."""
    return f"/api/v1/webhooks/{app_record.id}"


def create_app_record(name: str, adapter: str, credentials: dict, config: dict) -> App:
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
    app_record = App(name=name.strip(), adapter=adapter, credentials=credentials, config=config)
    db.session.add(app_record)
    db.session.commit()
    return app_record


def list_apps() -> list[App]:
    """Every App, oldest first."""
    return list(db.session.scalars(select(App).order_by(App.created_at, App.id)))


def describe_app(app_record: App) -> dict:
    """An App as shown to operators: credentials are never shown, only which keys are set."""
    return {
        "id": app_record.id,
        "name": app_record.name,
        "adapter": app_record.adapter,
        "webhook_path": webhook_path(app_record),
        "credentials_set": sorted(app_record.credentials or {}),
        "config": app_record.config or {},
        "created_at": as_utc(app_record.created_at).isoformat(),
    }
