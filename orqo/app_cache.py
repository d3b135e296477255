"""Each worker's copy of the Apps it serves, so that a webhook reads no App from the database.

An App (its adapter, credentials and config, and the App Event triggers of its workflows)
changes rarely and is needed by every delivery. Each worker keeps the Apps it has served in
memory, as :class:`CachedApp`. Every change to an App, an App Event trigger or a workflow
raises the ``apps`` revision (:class:`orqo.models.Revision`) in the same transaction, whoever
makes it (API, CLI, a script using the models); a worker compares its copy's revision with the
database's at most every ``APP_CACHE_SECONDS`` (0.5 s): one primary-key read per worker per
half second, whatever the load. So an App update, turning it off or on, a credential rotation
or a deletion takes effect on every worker of every host within that time, and at once in the
process that made it.
"""
from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event
from sqlalchemy import select
from sqlalchemy.orm import Session

from orqo.extensions import dialect_insert
from orqo.models import App
from orqo.models import AppEventTrigger
from orqo.models import Revision
from orqo.models import Workflow
from orqo.models import as_utc

#: The revision counter's name.
APPS = "apps"
# Raised after every commit of this process that changed an App: caches then check at once.
_last_local_change = 0


@dataclass(frozen=True)
class EventTrigger:
    """An enabled App Event trigger of an enabled workflow: its id, workflow and filter."""

    id: int
    workflow_id: int
    filter: dict


@dataclass(frozen=True)
class CachedApp:
    """What a delivery needs of its App."""

    id: str
    adapter: str
    credentials: dict
    config: dict
    route_to_doorkeeper: bool
    previous_credentials: dict | None
    previous_credentials_until: datetime | None
    event_triggers: tuple[EventTrigger, ...] = ()
    # False: an operator turned the App off; its deliveries are refused (orqo.app_switch).
    enabled: bool = True

    def credentials_still_accepted(self, now: datetime) -> list[dict]:
        """The previous credentials, while their grace period lasts."""
        until = self.previous_credentials_until
        if self.previous_credentials and until is not None and until > now:
            return [dict(self.previous_credentials)]
        return []


class AppCache:
    """The Apps of one orqo app (one per worker), read through ``connect()``."""

    def __init__(self, connect, refresh_seconds: float):
        self._connect = connect
        self.refresh_seconds = refresh_seconds
        self._apps: dict[str, CachedApp] = {}
        self._revision = None
        self._checked_at = float("-inf")
        self._local_change = _last_local_change

    def get(self, app_id: str) -> CachedApp | None:
        """The App with ``app_id``, or None when there is none."""
        now = time.monotonic()
        if now - self._checked_at >= self.refresh_seconds \
                or self._local_change != _last_local_change:
            self._check(now)
        found = self._apps.get(app_id)
        if found is None:
            found = self._load(app_id)
            if found is not None:
                self._apps[app_id] = found
        return found

    def _check(self, now: float) -> None:
        self._local_change = _last_local_change
        revision = self._connect().execute(
            select(Revision.value).where(Revision.name == APPS)).scalar()
        if revision != self._revision:
            self._apps.clear()
            self._revision = revision
        self._checked_at = now

    def _load(self, app_id: str) -> CachedApp | None:
        conn = self._connect()
        table = App.__table__
        app = conn.execute(select(table).where(table.c.id == app_id)).mappings().first()
        if app is None:
            return None
        triggers = AppEventTrigger.__table__
        found = conn.execute(
            select(triggers.c.id, triggers.c.workflow_id, triggers.c.filter)
            .join(Workflow.__table__, Workflow.__table__.c.id == triggers.c.workflow_id)
            .where(triggers.c.app_id == app_id, triggers.c.enabled.is_(True),
                   Workflow.__table__.c.enabled.is_(True))
            .order_by(triggers.c.id)).all()
        return CachedApp(
            id=app["id"], adapter=app["adapter"], credentials=dict(app["credentials"] or {}),
            config=dict(app["config"] or {}), route_to_doorkeeper=app["route_to_doorkeeper"],
            previous_credentials=app["previous_credentials"],
            previous_credentials_until=as_utc(app["previous_credentials_until"]),
            event_triggers=tuple(EventTrigger(t.id, t.workflow_id, t.filter or {})
                                 for t in found),
            enabled=bool(app["enabled"]),
        )


CACHED = (App, AppEventTrigger, Workflow)


@event.listens_for(Session, "before_flush")
def _raise_revision(session, _flush_context, _instances):
    """Raise the ``apps`` revision in the transaction that changes what workers cache."""
    changed = any(isinstance(obj, CACHED)
                  for obj in itertools.chain(session.new, session.dirty, session.deleted))
    if not changed or session.info.get("apps_revision_raised"):
        return
    table = Revision.__table__
    insert = dialect_insert(table, session.get_bind().dialect.name)
    session.execute(insert.values(name=APPS, value=1).on_conflict_do_update(
        index_elements=["name"], set_={"value": table.c.value + 1}))
    session.info["apps_revision_raised"] = True


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    global _last_local_change
    if session.info.pop("apps_revision_raised", False):
        _last_local_change += 1


@event.listens_for(Session, "after_rollback")
def _after_rollback(session):
    session.info.pop("apps_revision_raised", None)
