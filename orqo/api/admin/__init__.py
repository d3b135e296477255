"""The management API: every resource over REST with an ``admin``-scoped token.

* :mod:`.apps`: Apps and Contacts;
* :mod:`.workflows`: workflows, their token URLs and App Event triggers, runs;
* :mod:`.tokens`: API tokens;
* :mod:`.ledger`: the ledger of deliveries (replays are in :mod:`orqo.api.messages`);
* :mod:`.rejections`: the counts of refused deliveries;
* :mod:`.adapters`: the installed adapters and their settings.
"""
from orqo.api.admin import adapters
from orqo.api.admin import apps
from orqo.api.admin import ledger
from orqo.api.admin import rejections
from orqo.api.admin import tokens
from orqo.api.admin import workflows

BLUEPRINTS = (apps.bp, workflows.bp, tokens.bp, ledger.bp, rejections.bp, adapters.bp)
