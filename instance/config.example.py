# Example instance/config.py: copy this file to instance/config.py and uncomment what you need.
#
# orqo reads instance/config.py after its defaults (orqo/config.py) and before ORQO_*
# environment variables, which override it. Only UPPER_CASE names are settings. Every key is
# described in docs/configuration.md.
#
# Keep secrets (database passwords, AGENT_PUSH_SECRET) out of this file: set them in the
# environment, e.g. ORQO_DATABASE_URL=postgresql://orqo:...@db:5432/orqo.

# The database. A relative SQLite path is inside the instance folder (the default).
# SQLALCHEMY_DATABASE_URI = "sqlite:///orqo.sqlite3"

# PostgreSQL instead (psycopg 3 is used for postgresql:// URLs). Put a password in the
# environment (ORQO_DATABASE_URL), not here.
# DATABASE_URL = "postgresql://orqo@127.0.0.1:5432/orqo"

# Seconds to wait for a PostgreSQL connection before answering 503.
# DATABASE_CONNECT_TIMEOUT = 3

# Largest request body accepted, in bytes (413 above it).
# MAX_CONTENT_LENGTH = 4 * 1024 * 1024

# Installed plugins not to load, by entry-point name (see `orqo plugins`).
# DISABLED_PLUGINS = ["telegram"]

# Retry-After seconds sent with a 503.
# RETRY_AFTER_SECONDS = 5

# Where `orqo worker` pushes routed messages. AGENT_PUSH_SECRET (a whsec_ secret) is then
# required: set it in the environment as ORQO_AGENT_PUSH_SECRET.
# AGENT_PUSH_URL = "http://127.0.0.1:9000/orqo/messages"

# Push retries: attempts before a push is dead, and the backoff base and cap in seconds.
# PUSH_MAX_ATTEMPTS = 10
# PUSH_BACKOFF_BASE = 2.0
# PUSH_BACKOFF_MAX = 3600.0

# Requests per minute per token URL and per API token on the trigger endpoints (0: no limit).
# TRIGGER_RATE_LIMIT = 600
