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
}


def as_name_list(value) -> list[str]:
    """A list of names from a list or a comma-separated string."""
    if not value:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [str(name).strip() for name in value if str(name).strip()]
