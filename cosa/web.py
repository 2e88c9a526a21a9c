"""The web shell: templates, flash messages, security headers, request logging and error pages."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.exceptions import HTTPException
from litestar.response import Redirect
from litestar.types import Message, Scope
from litestar.utils.empty import value_or_default
from litestar.utils.scope.state import ScopeState

from cosa import i18n
from cosa.auth import SignInRequired, load_request_user
from cosa.settings import PROJECT_ROOT, Settings
from cosa.tables import Role

log = logging.getLogger("cosa.web")
TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"
FLASH_COOKIE = "cosa_flash"
MAX_NEXT_LENGTH = 2048  # characters of the percent-encoded page address kept for after sign-in

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"strict-transport-security": b"max-age=63072000; includeSubDomains",
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"same-origin",
    b"x-frame-options": b"DENY",
    b"cross-origin-opener-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
}


# --- templates ---------------------------------------------------------------------------------------


def make_environment(*, auto_reload: bool = False) -> Environment:
    """The templates. Only development re-reads a template when its file changes (a stat per render)."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        auto_reload=auto_reload,
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Jinja's newstyle wrappers do the %-formatting themselves, escaping the values into the Markup;
    # so they get the raw catalog lookups, never our formatting gettext.
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda message: i18n.translations(i18n.get_locale()).ugettext(message),
        ngettext=lambda s, p, n: i18n.translations(i18n.get_locale()).ungettext(s, p, n),
        newstyle=True,
    )
    env.filters["datetime"] = i18n.format_datetime
    env.filters["date"] = i18n.format_date
    env.globals["language_names"] = i18n.LANGUAGE_NAMES
    env.globals["static"] = static_url
    return env


_STATIC_VERSIONS: dict[str, str] = {}


def static_url(file_path: str) -> str:
    """A static file's URL with a content hash, so it can be cached long and still change on deploy."""
    version = _STATIC_VERSIONS.get(file_path)
    if version is None:
        data = (STATIC_DIR / file_path.lstrip("/")).read_bytes()
        version = _STATIC_VERSIONS[file_path] = hashlib.sha256(data).hexdigest()[:10]
    return f"/static/{file_path.lstrip('/')}?v={version}"


def nav_items(user: Any) -> list[tuple[str, str]]:
    """(route name, label) pairs for the signed-in user's role."""
    if user is None:
        return []
    items = [("home", i18n.gettext("Home"))]
    if user.role == Role.coordinator.value:
        items += [
            ("circles:core_members", i18n.gettext("Core members")),
            ("volunteers:list", i18n.gettext("Volunteers")),
            ("circles:indicators", i18n.gettext("Check-in indicators")),
        ]
    elif user.role == Role.probation.value:
        items = [
            ("circles:escalations", i18n.gettext("Alerts")),
            ("circles:core_members", i18n.gettext("Your caseload")),
        ]
    elif user.role == Role.admin.value:
        items += [
            ("admin:users", i18n.gettext("Users")),
            ("admin:regions", i18n.gettext("Regions")),
            ("admin:audit", i18n.gettext("Audit trail")),
            ("circles:escalation_policy", i18n.gettext("Escalation policy")),
            ("admin:retention", i18n.gettext("Data retention")),
        ]
    items.append(("account:detail", i18n.gettext("Your account")))
    return items


def render(
    request: ASGIConnection[Any, Any, Any, Any],
    template_name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
    headers: dict[str, str] | None = None,
    cookies: list[Cookie] | None = None,
) -> Response[str]:
    """Render a page, or only one of its blocks (the fragment an htmx request swaps in)."""
    env: Environment = request.app.state.jinja
    template = env.get_template(template_name)
    user = request.scope.get("user")
    full_context: dict[str, Any] = {
        "request": request,
        "user": user,
        "nav": nav_items(user),
        "lang": i18n.html_lang(),
        "locale": i18n.get_locale(),
        "csrf_token": value_or_default(ScopeState.from_scope(request.scope).csrf_token, ""),
        "flashes": take_flashes(request) + request.scope.setdefault("state", {}).pop("flash_out", []),
        "url_for": lambda route_name, /, **params: request.app.route_reverse(route_name, **params),
        "settings": request.app.state.settings,
        "errors": {},
        "values": {},
    }
    full_context.update(context or {})
    if block:
        ctx = template.new_context(full_context)
        html = "".join(template.blocks[block](ctx))
    else:
        html = template.render(full_context)
    return Response(content=html, status_code=status_code, media_type=MediaType.HTML, headers=headers, cookies=cookies)


# --- flash messages ----------------------------------------------------------------------------------
# A signed cookie carries messages across a redirect, for signed-in and anonymous users alike. Messages
# are already translated and must not contain personal data (the cookie is readable by the browser).


def _sign(settings: Settings, payload: bytes) -> str:
    return hmac.new(settings.secret_key.encode(), b"flash:" + payload, hashlib.sha256).hexdigest()[:32]


def flash(request: ASGIConnection[Any, Any, Any, Any], level: str, message: str) -> None:
    state = request.scope.setdefault("state", {})
    state.setdefault("flash_out", []).append({"level": level, "message": message})


def take_flashes(request: ASGIConnection[Any, Any, Any, Any]) -> list[dict[str, str]]:
    state = request.scope.setdefault("state", {})
    if state.get("flash_taken"):
        return []
    state["flash_taken"] = True
    raw = request.cookies.get(FLASH_COOKIE, "")
    payload, _sep, signature = raw.rpartition(".")
    if not payload or len(raw) > 4000:
        return []
    settings: Settings = request.app.state.settings
    try:
        data = base64.urlsafe_b64decode(payload.encode())
        if not hmac.compare_digest(signature, _sign(settings, data)):
            return []
        messages = json.loads(data)
    except (ValueError, TypeError):
        return []
    state["flash_consumed"] = True
    return [m for m in messages if isinstance(m, dict) and {"level", "message"} <= m.keys()]


def _flash_cookie_header(settings: Settings, scope: Scope) -> bytes | None:
    state = scope.get("state", {})
    secure = "; Secure" if settings.cookie_secure else ""
    if state.get("flash_out"):
        data = json.dumps(state["flash_out"]).encode()
        value = base64.urlsafe_b64encode(data).decode() + "." + _sign(settings, data)
        return f"{FLASH_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax{secure}".encode()
    if state.get("flash_consumed"):
        return f"{FLASH_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}".encode()
    return None


# --- every response: security headers, flash cookie, a log line without personal data ----------------


async def before_send(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers", []))
    present = {name.lower() for name, _value in headers}
    for name, value in SECURITY_HEADERS.items():
        if name not in present:
            headers.append((name, value))
    path = scope.get("path", "")
    if b"cache-control" not in present:
        static = path.startswith("/static/") and message["status"] == 200
        headers.append((b"cache-control", b"public, max-age=31536000, immutable" if static else b"no-store"))
    app = scope.get("app")
    if app is not None:
        cookie = _flash_cookie_header(app.state.settings, scope)
        if cookie:
            headers.append((b"set-cookie", cookie))
    message["headers"] = headers
    state = scope.get("state", {})
    started = state.get("started_at")
    took = f" {1000 * (time.perf_counter() - started):.1f}ms" if started else ""
    # The route template, never the path: paths can hold tokens and identifiers.
    log.info("%s %s %s%s", scope.get("method", ""), scope.get("path_template") or "-", message["status"], took)


# --- errors ------------------------------------------------------------------------------------------


def _messages_for(status: int, exc: Exception) -> tuple[str, str]:
    if status == 404:
        return i18n.gettext("Page not found"), i18n.gettext(
            "If you typed the web address, check it is correct. If you followed a link, it may be out of date, "
            "or the page may not be one your account can open."
        )
    if status == 403 and "CSRF" in str(getattr(exc, "detail", "")):
        return i18n.gettext("This form has expired"), i18n.gettext(
            "For your security, forms stop working after a while or when sent from another site. "
            "Go back, reload the page and send the form again. Nothing has been saved yet."
        )
    if status == 403:
        return i18n.gettext("You cannot do this"), i18n.gettext("Your account does not allow this action.")
    if status == 405:
        return i18n.gettext("This address does not accept that kind of request"), i18n.gettext(
            "Go back to the previous page and use the buttons or links on it."
        )
    if status == 429:
        return i18n.gettext("Too many attempts"), i18n.gettext("Wait a few minutes and try again.")
    if 400 <= status < 500:
        return i18n.gettext("Something in the request was not right"), i18n.gettext(
            "Go back, check what you entered and try again."
        )
    return i18n.gettext("Sorry, something went wrong"), i18n.gettext(
        "The problem has been logged. Nothing you typed has been lost from the page: go back, wait a moment and try "
        "again. If it keeps happening, tell your coordinator."
    )


class DeferredResponse(Response[str]):
    """A response built asynchronously at send time.

    Litestar's exception handlers are synchronous, but an error page needs the signed-in user (for the
    navigation and language), which means a database query; this defers that work to the ASGI call.
    """

    def __init__(self, build: Callable[[], Awaitable[Response[Any]]]) -> None:
        super().__init__(content="")
        self._build = build

    def to_asgi_response(self, app: Any, request: Any, **kwargs: Any) -> Any:
        build = self._build

        async def asgi(scope: Scope, receive: Any, send: Any) -> None:
            response = await build()
            await response.to_asgi_response(app, request)(scope, receive, send)

        return asgi


def http_exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, SignInRequired):
        return DeferredResponse(lambda: _sign_in_redirect(request))
    return DeferredResponse(lambda: _error_page(request, exc))


async def _error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status >= 500:
        frames = traceback.extract_tb(exc.__traceback__)[-5:]
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(frames))
        # The exception's class and where it happened; never its message, which can quote data.
        log.error("unhandled %s at %s", type(exc).__name__, where)
    try:
        await load_request_user(request)
    except Exception:  # noqa: BLE001 - the error page must render even when the database is down
        request.scope["user"] = None
    title, body = _messages_for(status, exc)
    headers = {}
    if status == 405 and isinstance(exc, HTTPException) and exc.headers:
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
    if request.headers.get("hx-request") and not request.headers.get("hx-boosted"):
        # htmx does not swap error responses by default; the page's script shows this text instead.
        return render(
            request,
            "_error_fragment.html",
            {"title": title, "body": body, "status": status},
            status_code=status,
            headers=headers,
        )
    return render(
        request, "error.html", {"title": title, "body": body, "status": status}, status_code=status, headers=headers
    )


async def _sign_in_redirect(request: Request[Any, Any, Any]) -> Response[Any]:
    if request.scope.get("state", {}).get("session_expired"):
        flash(
            request, "info", i18n.gettext("You were signed out after a period without activity. Please sign in again.")
        )
    login = request.app.route_reverse("auth:login")
    if request.scope.get("pending_user") is not None:
        login = request.app.route_reverse("auth:second_factor")
    if request.method == "GET":
        target = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="")
        # An address too long for a Location header (proxies and browsers refuse those) is not carried over.
        if len(target) <= MAX_NEXT_LENGTH:
            login += "?next=" + target
    if request.headers.get("hx-request"):
        return Response(content="", status_code=401, headers={"HX-Redirect": login})
    return Redirect(path=login, status_code=303)
