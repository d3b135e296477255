"""The verify and parse stages for the App's own adapter.

orqo passes the App's adapter to both stage hooks; this plugin is the one whose answers count
as the adapter's (see :mod:`orqo.dispatch`). Secret rotation lives here, once for every
adapter: a delivery the current credentials reject is verified again with each set of previous
credentials still in their grace period.
"""
import dataclasses

from orqo import hookimpl


@hookimpl(tryfirst=True)
def verify_webhook(request, adapter):
    """The adapter's verdict on the delivery, with the current or a still-valid old secret."""
    verdict = adapter.verify(request)
    for previous in request.previous_credentials if not verdict.accepted else ():
        retried = adapter.verify(dataclasses.replace(request, credentials=previous,
                                                     previous_credentials=[]))
        if retried.accepted:
            return retried
    return verdict


@hookimpl(tryfirst=True)
def parse_webhook(request, adapter):
    """The adapter's normalisation of the delivery."""
    return adapter.parse(request)
