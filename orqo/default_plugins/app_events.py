"""App Event triggers: for an App whose "route to Doorkeeper" setting is off, each message no
waitbox took starts a run of every workflow whose App Event trigger filter matches; with no
match it is recorded as ``no_route``. Apps with Doorkeeper on are left to Doorkeeper. The
triggers come with the cached App (:class:`orqo.app_cache.CachedApp`), enabled ones of enabled
workflows only."""
from __future__ import annotations

from orqo import hookimpl
from orqo.handlers import Route
from orqo.services.triggers import filter_matches


@hookimpl
def route_message(message, context):
    """Start the matching workflows' runs, or record ``no_route``; None for Doorkeeper Apps."""
    if context.app.route_to_doorkeeper:
        return None
    matched = [trigger for trigger in context.app.event_triggers
               if filter_matches(trigger.filter, message)]
    if not matched:
        return Route(handler="app_event", outcome="no_route")
    return Route(handler="app_event", ref=",".join(str(t.id) for t in matched)[:128],
                 runs=tuple((t.workflow_id, t.id) for t in matched),
                 details={"app_event_trigger_ids": [t.id for t in matched]})
