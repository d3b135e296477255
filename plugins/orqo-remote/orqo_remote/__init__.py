"""orqo adapter ``remote``: an App's verify, parse and send stages answered by an HTTP service.

ORQO's hosted adapters are HTTP services (``shared/reference/orqo.md``, "Adapters"):
``GET /manifest.json``, ``GET /health``, ``POST /verify-webhook``, ``POST /parse-inbound``,
``POST /deliver``. An App created with ``--adapter remote --config url=https://adapter.example``
has its deliveries verified and parsed, and its outbound messages sent, by the service at that
URL:

* Both POSTs carry the stage request exactly as in-process adapters get it
  (:class:`orqo.schemas.StageRequestSchema`, raw body base64-encoded), with the App's
  credentials renamed to the manifest's ``maps_to`` names and sent on every call (adapters are
  stateless), and ``config`` set to the App's ``adapter_config``. ``/verify-webhook`` answers a
  :class:`orqo.schemas.VerdictSchema`, ``/parse-inbound`` a
  :class:`orqo.schemas.ParseResultSchema` (its ``challenge`` is ORQO's challenge response), or
  HTTP 400 in orqo's error shape for a malformed body.
* ``/manifest.json`` is fetched and validated whenever the App's settings are saved (created,
  updated, credentials rotated); every credential it declares is required unless it says
  ``"required": false``. Its ``capabilities`` are kept with the App: with ``send`` among them
  the App can send.
* ``POST /deliver`` carries the send request (:class:`orqo.schemas.SendRequestSchema`,
  credentials and config as above) and answers a :class:`orqo.schemas.SendResultSchema`; it
  has ``send_timeout`` (10 s by default) within the worker's attempt. An adapter that cannot
  be reached or answers 5xx makes it a ``retry``, a 4xx a ``failed`` with the adapter's
  message (credentials blanked); see :mod:`orqo_remote.deliver` for the JSON.
* One budget (``budget_seconds``, 2.5 s by default) covers a whole delivery from its receipt,
  so orqo answers within Slack's 3 s; it bounds every read. An adapter that is down, slow,
  answers non-2xx, invalid JSON, JSON that breaks the schema or a body over
  ``max_response_bytes`` makes the delivery an ``adapter_error``: the platform gets 503 with
  ``Retry-After`` and retries.
* URLs are https except on loopback; ``REMOTE_ADAPTER_ALLOWED_HOSTS`` limits the hosts, and
  without it only public addresses (or loopback named as such) are connected to, checked after
  resolution on every connection (:mod:`orqo_remote.addresses`, :mod:`orqo_remote.transport`);
  redirects are never followed (see :mod:`orqo_remote.client`).
* Changing the URL's origin, or that of a URL in ``adapter_config`` (``api_base_url``,
  ``reply_url``), needs the credentials again (:meth:`RemoteAdapter.credentials_destination`).

The same contract is served for any installed adapter by ``orqo adapter-serve PLATFORM``.
"""
from orqo import hookimpl
from orqo_remote.adapter import RemoteAdapter
from orqo_remote.adapter import RemoteConfig
from orqo_remote.client import RemoteAdapterError
from orqo_remote.client import check_url
from orqo_remote.manifest import HealthSchema
from orqo_remote.manifest import ManifestSchema

__all__ = ["HealthSchema", "ManifestSchema", "RemoteAdapter", "RemoteAdapterError",
           "RemoteConfig", "check_url", "register_adapters"]


@hookimpl
def register_adapters(register):
    """Provide the ``remote`` adapter."""
    register(RemoteAdapter)
