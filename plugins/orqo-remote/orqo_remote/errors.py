"""The errors of calls to a remote adapter."""
from __future__ import annotations

from orqo.errors import OrqoError


class RemoteAdapterError(OrqoError):
    """A remote adapter could not be called, or gave no usable answer.

    The message says why and names the adapter's URL; it never holds a credential or a body.
    ``detail``, when set, is the cause behind a deliberately generic message (e.g.
    ``"ConnectionError: Connection refused"``): for orqo's log and the operator's CLI only.
    ``permanent`` says that calling again cannot help until the App's settings change (a
    redirect, a refused address), as opposed to an adapter that was down or slow.
    """

    def __init__(self, message: str, detail: str = "", permanent: bool = False):
        super().__init__(message)
        self.detail = detail
        self.permanent = permanent


class AddressRefused(RemoteAdapterError):
    """The adapter's host resolves to an address orqo does not connect to (see
    :mod:`orqo_remote.addresses`). Raised before any connection is attempted."""
