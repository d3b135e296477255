"""The key that signs the console's session cookies: ``SECRET_KEY``, else one kept in the
instance folder (``instance/secret_key``), made on first start."""
from __future__ import annotations

import os
import secrets

KEY_FILE = "secret_key"


def ensure_secret_key(app) -> None:
    """Give ``app`` a ``SECRET_KEY``: the configured one, else the instance folder's file.

    Every gunicorn worker and CLI command must sign with the same key, so the file is written
    once, atomically (a temporary file linked into place: a second process that loses the
    race reads the winner's key, never a half-written file).
    """
    if app.config.get("SECRET_KEY"):
        return
    path = os.path.join(app.instance_path, KEY_FILE)
    if not os.path.exists(path):
        temporary = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    with open(path, encoding="utf-8") as handle:
        app.config["SECRET_KEY"] = handle.read().strip()
