"""orqo's configuration keys and their defaults.

Order of precedence, lowest first: these defaults, ``instance/config.py``, ``ORQO_*``
environment variables (``ORQO_MAX_CONTENT_LENGTH=1048576``; values are parsed as JSON when
they can be; ``__`` nests), then the mapping given to ``create_app()``. Every key is documented
in ``docs/configuration.md``, with its rule (``RULES``, below), which ``create_app()`` checks.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask

from orqo.errors import ConfigError
from orqo.sqlite import SYNCHRONOUS_MODES

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
    # Seconds to connect to the agent endpoint, and for a whole attempt (connect, send and
    # every read of the answer; cut shorter to end inside the push's lease).
    "PUSH_CONNECT_TIMEOUT": 3.0,
    "PUSH_TIMEOUT": 10.0,
    # Seconds a worker holds a push it is sending before another worker may take it.
    "PUSH_LEASE_SECONDS": 60.0,
    # Messages agents send through the platforms (POST /api/v1/messages), sent by `orqo
    # worker`: attempts before a message is failed; backoff base and cap in seconds (a
    # platform's own wait, Retry-After or Telegram's retry_after, is honoured up to the cap);
    # seconds to connect and for a whole attempt; seconds a worker holds a message it sends.
    "SEND_MAX_ATTEMPTS": 8,
    "SEND_BACKOFF_BASE": 2.0,
    "SEND_BACKOFF_MAX": 900.0,
    "SEND_CONNECT_TIMEOUT": 3.0,
    "SEND_TIMEOUT": 10.0,
    "SEND_LEASE_SECONDS": 60.0,
    # Seconds an idle worker waits before looking for due pushes again.
    "WORKER_POLL_SECONDS": 1.0,
    # Retention (orqo/services/retention.py; 0 keeps forever): days the ledger (deliveries,
    # their messages and conversation entries) is kept, at least 7 so redeliveries stay
    # duplicates; days delivered and dead pushes are kept; hours idempotency records are
    # kept, at least the 24 hours a repeated key is answered from them.
    "RETENTION_LEDGER_DAYS": 30,
    "RETENTION_PUSHES_DAYS": 7,
    "RETENTION_IDEMPOTENCY_HOURS": 24,
    # Bytes of each delivery's body the ledger keeps, with its headers (secrets redacted), for
    # the console's and the API's view of one delivery (0: neither body nor headers).
    "LEDGER_BODY_BYTES": 16384,
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
    # Hosts remote adapters (plugin orqo-remote) may be reached at, a list or comma-separated
    # (their addresses not checked); unset: hosts that resolve to public addresses only, or
    # loopback named as such (localhost, 127.x, ::1). Set it in production.
    "REMOTE_ADAPTER_ALLOWED_HOSTS": None,
    # orqo's own log lines on stderr: "json" (one object per line, with the request id) or
    # "text"; and their level.
    "LOG_FORMAT": "json",
    "LOG_LEVEL": "INFO",
    # The key that signs the console's session cookies (unset: a random key made once and kept
    # in the instance folder's secret_key file). Every worker must share it.
    "SECRET_KEY": None,
    # The scheme, host and port (and path prefix, if any) the platforms and callers reach orqo
    # at: full URLs (an App's webhook_url, a token URL) are this plus orqo's path.
    "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
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


# --- Checking the settings at start-up ------------------------------------------------------
# One rule per key, checked by create_app() (so by every gunicorn worker and CLI command) and by
# gunicorn's master before it starts any worker (gunicorn.conf.py). A rule may name a key that
# DEFAULTS does not hold (yet): it is checked only when the key is set.


class InvalidSetting(ConfigError):
    """A setting orqo cannot run with; the message names it as the operator set it
    (``ORQO_<KEY>`` when it came from the environment) and says what it must be."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name} {message}")
        self.setting = name


@dataclass(frozen=True)
class Rule:
    """What one setting may be: ``kind`` is ``integer``, ``number``, ``boolean``, ``string``,
    ``choice`` (one of ``choices``, any case), ``names`` (a list, or a comma-separated
    string) or ``url`` (``http://`` or ``https://`` with a host, no query or fragment); numbers are at least ``minimum`` or above ``above``, finite, and integers fit
    in 64 bits (what a database column holds); ``optional`` settings may also be unset
    (``None`` or an empty string)."""

    kind: str
    minimum: float | None = None
    above: float | None = None
    choices: tuple[str, ...] = ()
    optional: bool = False

    def describe(self) -> str:
        """What the rule asks for, in words (``an integer ≥ 0``)."""
        text = {"integer": "an integer", "number": "a number", "boolean": "true or false",
                "string": "a string", "names": "a list of names or a comma-separated string",
                "choice": "one of " + ", ".join(self.choices),
                "url": "an http:// or https:// URL with a host and no query or fragment",
                }[self.kind]
        if self.above is not None:
            text += f" > {self.above:g}"
        elif self.minimum is not None:
            text += f" ≥ {self.minimum:g}"
        return text + (", or unset" if self.optional else "")

    def allows(self, value) -> bool:
        """Whether ``value`` obeys the rule."""
        if self.optional and value in (None, ""):
            return True
        if self.kind in ("integer", "number"):
            numeric = int if self.kind == "integer" else (int, float)
            if isinstance(value, bool) or not isinstance(value, numeric):
                return False
            if not (math.isfinite(value) if isinstance(value, float) else value <= INTEGER_MAX):
                return False
            return ((self.minimum is None or value >= self.minimum)
                    and (self.above is None or value > self.above))
        if self.kind == "boolean":
            return isinstance(value, bool) or value in (0, 1) or (
                isinstance(value, str) and value.strip().lower() in BOOLEAN_WORDS)
        if self.kind == "choice":
            return isinstance(value, str) and value.upper() in {c.upper() for c in self.choices}
        if self.kind == "url":
            return isinstance(value, str) and is_base_url(value)
        if self.kind == "names":
            return isinstance(value, str) or (
                isinstance(value, (list, tuple)) and all(isinstance(n, str) for n in value))
        return isinstance(value, str) and value != ""


def is_base_url(value: str) -> bool:
    """Whether ``value`` is a URL full paths can be appended to (PUBLIC_BASE_URL)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname)
            and not parts.query and not parts.fragment and "?" not in value
            and "#" not in value and not any(c.isspace() for c in value))


INTEGER_MAX = 2 ** 63 - 1
BOOLEAN_WORDS = ("true", "false", "1", "0", "yes", "no", "on", "off")
INTEGER_AT_LEAST_0 = Rule("integer", minimum=0)
SECONDS = Rule("number", above=0)

RULES = {
    "SQLALCHEMY_DATABASE_URI": Rule("string"),
    "DATABASE_URL": Rule("string", optional=True),
    "SQLITE_SYNCHRONOUS": Rule("choice", choices=SYNCHRONOUS_MODES),
    "APP_CACHE_SECONDS": Rule("number", minimum=0),
    "DATABASE_CONNECT_TIMEOUT": SECONDS,
    "MAX_CONTENT_LENGTH": Rule("integer", minimum=1),
    "LOAD_ENTRYPOINTS": Rule("boolean"),
    "DISABLED_PLUGINS": Rule("names", optional=True),
    "RETRY_AFTER_SECONDS": INTEGER_AT_LEAST_0,
    "AGENT_PUSH_URL": Rule("string", optional=True),
    "AGENT_PUSH_SECRET": Rule("string", optional=True),
    "PUSH_MAX_ATTEMPTS": Rule("integer", minimum=1),
    "PUSH_BACKOFF_BASE": Rule("number", minimum=0),
    "PUSH_BACKOFF_MAX": Rule("number", minimum=0),
    "PUSH_CONNECT_TIMEOUT": SECONDS,
    "PUSH_TIMEOUT": SECONDS,
    "PUSH_LEASE_SECONDS": SECONDS,
    "SEND_MAX_ATTEMPTS": Rule("integer", minimum=1),
    "SEND_BACKOFF_BASE": Rule("number", minimum=0),
    "SEND_BACKOFF_MAX": Rule("number", minimum=0),
    "SEND_CONNECT_TIMEOUT": SECONDS,
    "SEND_TIMEOUT": SECONDS,
    "SEND_LEASE_SECONDS": SECONDS,
    "WORKER_POLL_SECONDS": SECONDS,
    "TRIGGER_RATE_LIMIT": INTEGER_AT_LEAST_0,
    "SENDER_RATE_LIMIT": INTEGER_AT_LEAST_0,
    "PROXY_COUNT": INTEGER_AT_LEAST_0,
    "REJECTION_WINDOW_SECONDS": Rule("integer", minimum=60),
    "REJECTION_SAMPLES": INTEGER_AT_LEAST_0,
    "REJECTION_SOURCES": Rule("integer", minimum=1),
    "REJECTION_RATE_LIMIT": INTEGER_AT_LEAST_0,
    "REMOTE_ADAPTER_ALLOWED_HOSTS": Rule("names", optional=True),
    "LOG_FORMAT": Rule("choice", choices=("json", "text")),
    "LOG_LEVEL": Rule("choice", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")),
    "SECRET_KEY": Rule("string", optional=True),
    "PUBLIC_BASE_URL": Rule("url"),
    # Retention (0 keeps rows forever) and how often `orqo worker` prunes.
    "RETENTION_LEDGER_DAYS": INTEGER_AT_LEAST_0,
    "RETENTION_PUSHES_DAYS": INTEGER_AT_LEAST_0,
    "RETENTION_IDEMPOTENCY_HOURS": INTEGER_AT_LEAST_0,
    "PRUNE_INTERVAL_SECONDS": Rule("number", minimum=0),
    "LEDGER_BODY_BYTES": INTEGER_AT_LEAST_0,
}


def check_settings(config, overridden=()) -> None:
    """Raise :class:`InvalidSetting` for the first setting in ``config`` that breaks its rule.

    :param config: the settings, as ``create_app`` loaded them.
    :param overridden: keys given directly (``create_app``'s ``test_config``): named as keys,
        not as the ``ORQO_*`` variable that they replaced.
    """
    for key, rule in RULES.items():
        if key in config and not rule.allows(config[key]):
            raise InvalidSetting(setting_name(key, overridden),
                                 f"must be {rule.describe()}, got {config[key]!r}")


def setting_name(key: str, overridden=()) -> str:
    """How the operator set ``key``: ``ORQO_<KEY>`` when the environment set it, else ``KEY``."""
    variable = ENV_PREFIX + key
    return variable if variable in os.environ and key not in overridden else key


ENV_PREFIX = "ORQO_"


def load_settings(config, test_config=None) -> None:
    """Fill a Flask ``config`` from every source, in order, and check it (:func:`check_settings`).

    Defaults, then ``instance/config.py``, then ``ORQO_*`` variables, then ``test_config``.
    """
    config.from_mapping(DEFAULTS)
    config.from_pyfile("config.py", silent=True)
    config.from_prefixed_env(ENV_PREFIX.rstrip("_"))
    if test_config:
        config.from_mapping(test_config)
    check_settings(config, overridden=test_config or ())


def settings_app(test_config=None) -> Flask:
    """A bare Flask app on orqo's instance folder, holding its settings, loaded and checked.

    ``create_app()`` builds on it; gunicorn's master calls it alone, to refuse invalid settings
    before it starts any worker. The instance folder is ``ORQO_INSTANCE_PATH`` when set.
    """
    instance_path = os.environ.get("ORQO_INSTANCE_PATH")
    app = Flask(
        "orqo",
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        # No app-wide static route: the few files orqo serves (the API docs page's assets)
        # have routes of their own, and every other path is a route or a JSON 404.
        static_folder=None,
    )
    load_settings(app.config, test_config)
    return app
