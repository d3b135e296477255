"""The verify and parse stages for the App's own adapter.

orqo passes the App's adapter to both stage hooks; this plugin is the one whose answers count
as the adapter's (see :mod:`orqo.dispatch`).
"""
from orqo import hookimpl


@hookimpl(tryfirst=True)
def verify_webhook(request, adapter):
    """The adapter's verdict on the delivery."""
    return adapter.verify(request)


@hookimpl(tryfirst=True)
def parse_webhook(request, adapter):
    """The adapter's normalisation of the delivery."""
    return adapter.parse(request)
