"""orqo's configuration keys and their defaults.

Order of precedence, lowest first: these defaults, ``instance/config.py``, ``ORQO_*``
environment variables (``ORQO_MAX_CONTENT_LENGTH=1048576``; values are parsed as JSON when
they can be; ``__`` nests), then the mapping given to ``create_app()``. Every key is documented
in ``docs/configuration.md``.
"""
from __future__ import annotations

DEFAULTS = {
    # Where the database lives. A relative SQLite path is inside the instance folder.
    "SQLALCHEMY_DATABASE_URI": "sqlite:///orqo.sqlite3",
    # Overrides SQLALCHEMY_DATABASE_URI when set (ORQO_DATABASE_URL=postgresql://...).
    "DATABASE_URL": None,
    # SQLite's durability: "NORMAL" (a commit survives a crashed or killed orqo; a crash of the
    # machine can lose the last ones) or "FULL" (survives power loss, at about two thirds of the
    # throughput). See docs/reliability.md. PostgreSQL keeps its own settings.
    "SQLITE_SYNCHRONOUS": "NORMAL",
    # Seconds a worker serves Apps from its memory before checking they are still current: an
    # App update or credential rotation takes effect on every worker within this time.
    "APP_CACHE_SECONDS": 0.5,
    # Seconds to wait for a database connection before answering 503.
    "DATABASE_CONNECT_TIMEOUT": 3,
    # Largest accepted request body, in bytes (413 above it). Meta sends up to 3 MB.
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    # Load plugins from the "orqo" entry-point group.
    "LOAD_ENTRYPOINTS": True,
    # Entry-point names of plugins not to load (a list, or a comma-separated string).
    "DISABLED_PLUGINS": [],
    # The Retry-After seconds sent with a 503 (database or adapter unavailable).
    "RETRY_AFTER_SECONDS": 5,
    # Where `orqo worker` POSTs each routed message (unset: no push), and the Standard Webhooks
    # secret (whsec_...) it signs them with.
    "AGENT_PUSH_URL": None,
    "AGENT_PUSH_SECRET": None,
    # Attempts before a push is dead-lettered; backoff base and cap in seconds.
    "PUSH_MAX_ATTEMPTS": 10,
    "PUSH_BACKOFF_BASE": 2.0,
    "PUSH_BACKOFF_MAX": 3600.0,
    # Seconds to connect to and to wait for the agent endpoint.
    "PUSH_CONNECT_TIMEOUT": 3.0,
    "PUSH_TIMEOUT": 10.0,
    # Seconds a worker holds a push it is sending before another worker may take it.
    "PUSH_LEASE_SECONDS": 60.0,
    # Seconds an idle worker waits before looking for due pushes again.
    "WORKER_POLL_SECONDS": 1.0,
    # Retention (orqo/services/retention.py; 0 keeps forever): days the ledger (deliveries,
    # their messages and conversation entries) is kept, at least 7 so redeliveries stay
    # duplicates; days delivered and dead pushes are kept; hours idempotency records are
    # kept, at least the 24 hours a repeated key is answered from them.
    "RETENTION_LEDGER_DAYS": 30,
    "RETENTION_PUSHES_DAYS": 7,
    "RETENTION_IDEMPOTENCY_HOURS": 24,
    # Seconds between two prunings by `orqo worker` (0: the worker never prunes; run
    # `orqo prune` instead).
    "PRUNE_INTERVAL_SECONDS": 3600,
    # Requests per minute per token URL and per API token on the trigger endpoints (0: off).
    "TRIGGER_RATE_LIMIT": 600,
    # Messages per minute one Contact may send to one App before the rest of the minute's are
    # recorded "throttled" instead of routed (0: off).
    "SENDER_RATE_LIMIT": 120,
    # How many reverse proxies (nginx, a load balancer) stand in front of orqo. Their
    # X-Forwarded-For/-Proto/-Host values are trusted for exactly that many hops; 0 trusts none.
    "PROXY_COUNT": 0,
    # Refused deliveries (bad signature, malformed, unsigned pings) are counted per App,
    # outcome and source address in windows of this many seconds, not stored one by one...
    "REJECTION_WINDOW_SECONDS": 3600,
    # ...except the first ones of each App and window, kept in full for forensics;
    "REJECTION_SAMPLES": 20,
    # distinct source addresses counted apart per App and window (the rest as "other");
    "REJECTION_SOURCES": 100,
    # and refusals per minute from one address to one App before it is answered 429 without
    # being looked at (per worker; 0: off).
    "REJECTION_RATE_LIMIT": 120,
    # Hosts remote adapters (plugin orqo-remote) may be reached at, a list or comma-separated;
    # unset: any https host, or any loopback host. Set it in production.
    "REMOTE_ADAPTER_ALLOWED_HOSTS": None,
    # orqo's own log lines on stderr: "json" (one object per line, with the request id) or
    # "text"; and their level.
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
}


def as_bool(value) -> bool:
    """A boolean from config: ``False``/``false``/``0``/``no``/``off`` as strings are false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no", "off")
    return bool(value)


def as_name_list(value) -> list[str]:
    """A list of names from a list or a comma-separated string."""
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [str(name).strip() for name in value if str(name).strip()]
