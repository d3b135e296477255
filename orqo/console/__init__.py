"""The operator's console at ``/console``: server-rendered pages over orqo's services.

Signing in exchanges an admin API token for a session cookie (HttpOnly, SameSite=Lax, Secure
when the request came over HTTPS). The cookie holds the token's id and hash, never its secret;
every request checks that the token is still live, so revoking it ends the session. Every POST
carries the session's CSRF token. See docs/console.md.
"""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from datetime import timedelta

from flask import Blueprint
from flask import abort
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from orqo.console.listing import console_path
from orqo.errors import ApiError
from orqo.extensions import db
from orqo.models import ApiToken
from orqo.models import as_utc
from orqo.models import utcnow
from orqo.services import tokens

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

#: How long a sign-in lasts, whatever the browser does with the cookie.
SESSION_LIFETIME = timedelta(hours=12)
#: Views reachable without a session.
PUBLIC_ENDPOINTS = ("console.sign_in", "console.static")
# Pages only from orqo itself: no inline script, no framing (clickjacking of the buttons).
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
                           "form-action 'self'; base-uri 'none'")


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, sent with ``Secure`` exactly when the request was HTTPS (behind
    a proxy: as ``X-Forwarded-Proto`` says, trusted through ``PROXY_COUNT``'s ProxyFix)."""

    def get_cookie_secure(self, app) -> bool:
        return request.is_secure

    def get_cookie_path(self, app) -> str:
        return "/console"

    def should_set_cookie(self, app, session_) -> bool:
        # The API and webhooks never open a session; only the console's requests get one.
        return request.path.startswith("/console") and super().should_set_cookie(app, session_)


def init_app(app) -> None:
    """Serve the console from ``app``: its session cookie, secret key and pages."""
    from orqo.console import apps  # noqa: F401  (routes on bp)
    from orqo.console import contacts  # noqa: F401
    from orqo.console import deliveries  # noqa: F401
    from orqo.console import more  # noqa: F401
    from orqo.console import sending  # noqa: F401
    from orqo.console.secret import ensure_secret_key

    ensure_secret_key(app)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "orqo_console"
    app.session_interface = ConsoleSessionInterface()
    app.register_blueprint(bp)


def csrf_token() -> str:
    """The session's CSRF token (made on first use), for every form's hidden field."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


@bp.app_template_global("csrf_field")
def _csrf_field():
    return Markup(f'<input type="hidden" name="csrf_token" value="{escape(csrf_token())}">')


@bp.before_request
def _guard():
    if request.method == "POST":
        given = request.form.get("csrf_token", "")
        expected = session.get("csrf", "")
        if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
            abort(400, "The form's CSRF token is missing or wrong: reload the page and retry.")
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = signed_in_token()
    if token is None:
        session.pop("token_id", None)
        return redirect(url_for("console.sign_in", next=request.full_path.rstrip("?")
                                if request.method == "GET" else None))
    g.console_token = token
    return None


@bp.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "console.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def signed_in_token() -> ApiToken | None:
    """The live admin token of this session, or None (no session, expired, revoked)."""
    token_id, token_hash = session.get("token_id"), session.get("token_hash", "")
    signed_in_at = session.get("signed_in_at")
    if not token_id or not signed_in_at or utcnow().timestamp() - signed_in_at > \
            SESSION_LIFETIME.total_seconds():
        return None
    token = tokens.find_live(token_id, token_hash)
    if token is None or "admin" not in token.scope_list:
        return None
    return token


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """The sign-in form: an admin API token, exchanged for a session."""
    error = None
    if request.method == "POST":
        token = tokens.authenticate(request.form.get("token", "").strip())
        if token is None or "admin" not in token.scope_list:
            error = "That is not a live admin token."
        else:
            session.clear()  # a fresh session (and CSRF token) for the signed-in operator
            session.update(token_id=token.id, token_hash=token.token_hash,
                           signed_in_at=utcnow().timestamp(), token_name=token.name)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("console/sign_in.html", error=error), status


def _safe_next(target: str | None) -> str:
    return target if console_path(target) else url_for("console.deliveries_page")


@bp.route("/sign-out", methods=["POST"])
def sign_out():
    """End the session (the token itself stays valid for the API)."""
    session.clear()
    return redirect(url_for("console.sign_in"))


@bp.route("")
@bp.route("/")
def home():
    """The console opens on the deliveries."""
    return redirect(url_for("console.deliveries_page"))


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    db.session.rollback()
    return render_template("console/error.html", status=exc.status, message=exc.message,
                           details=exc.details), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return render_template("console/error.html", status=exc.code, message=exc.description,
                           details={}), exc.code


@bp.app_template_filter("when")
def _when(value) -> str:
    """A timestamp (ISO text or datetime) as ``YYYY-MM-DD HH:MM:SS UTC``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"
