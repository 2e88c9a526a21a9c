"""Accounts, passwords, sign-in throttling, sessions and the guards every route declares."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import anyio.to_thread
from argon2 import PasswordHasher
from argon2 import Type as Argon2Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.exceptions import NotFoundException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Receive, Scope, Send

from cosa import audit, i18n
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.settings import Settings
from cosa.tables import STAFF_ROLES, LoginThrottle, Role, User, UserSession

COMMON_PASSWORDS_FILE = Path(__file__).parent / "data" / "common-passwords.txt"
PASSWORD_MIN_LENGTH = 12
PASSWORD_MAX_LENGTH = 128
LANGUAGE_COOKIE = "cosa_lang"
RowT = TypeVar("RowT")
TOUCH_INTERVAL = timedelta(seconds=60)
PENDING_LIFETIME = timedelta(minutes=10)


# --- passwords ---------------------------------------------------------------------------------------


@cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords (from zxcvbn 4.5.0's frequency list, MIT licence)."""
    return frozenset(line.strip().lower() for line in COMMON_PASSWORDS_FILE.read_text().splitlines() if line)


def password_problem(password: str, email: str = "") -> str | None:
    """Why this password is refused, in the user's language, or None when it is acceptable."""
    if len(password) < PASSWORD_MIN_LENGTH:
        return i18n.gettext("Your password must be at least %(min)s characters long.", min=PASSWORD_MIN_LENGTH)
    if len(password) > PASSWORD_MAX_LENGTH:
        return i18n.gettext("Your password must be %(max)s characters or fewer.", max=PASSWORD_MAX_LENGTH)
    if password.lower() in common_passwords() or (email and password.lower() == email.lower()):
        return i18n.gettext("This password is too easy to guess. Try a few unrelated words together.")
    return None


@cache
def _hasher(time_cost: int, memory_kib: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Argon2Type.ID)


def hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.argon2_time_cost, settings.argon2_memory_kib)


# Each argon2 hash holds ARGON2_MEMORY_KIB (64 MiB in production) while it runs: a burst of sign-ins would
# otherwise run one per worker thread (up to 40) at once. A few at a time keeps memory bounded.
HASHING_AT_ONCE = 4
_hashing_slots: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = WeakKeyDictionary()


def _hashing_slot() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slot = _hashing_slots.get(loop)
    if slot is None:
        slot = _hashing_slots[loop] = asyncio.Semaphore(HASHING_AT_ONCE)
    return slot


async def hash_password(settings: Settings, password: str) -> str:
    # argon2 costs tens of milliseconds of CPU: keep it off the event loop.
    async with _hashing_slot():
        return await anyio.to_thread.run_sync(hasher(settings).hash, password)


@cache
def _dummy_hash(time_cost: int, memory_kib: int) -> str:
    return _hasher(time_cost, memory_kib).hash(secrets.token_urlsafe(16))


async def verify_password(settings: Settings, password_hash: str, password: str) -> bool:
    """Check a password. With no hash (unknown user) it still does the same work, so timing tells nothing."""
    ph = hasher(settings)
    target = password_hash or _dummy_hash(settings.argon2_time_cost, settings.argon2_memory_kib)

    def check() -> bool:
        try:
            return ph.verify(target, password) and bool(password_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async with _hashing_slot():
        return await anyio.to_thread.run_sync(check)


# --- tokens ------------------------------------------------------------------------------------------


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(settings: Settings, value: str) -> str:
    """A keyed hash for counters keyed on personal values (an email typed, an address)."""
    return hmac.new(settings.secret_key.encode(), value.encode(), hashlib.sha256).hexdigest()


# --- sign-in throttling ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThrottlePolicy:
    slow_after: int  # failures in the window before each attempt must wait
    lock_after: int  # failures in the window before the key is locked
    lock_for: timedelta
    window: timedelta


ACCOUNT_POLICY = ThrottlePolicy(
    slow_after=5, lock_after=10, lock_for=timedelta(minutes=15), window=timedelta(minutes=15)
)
ADDRESS_POLICY = ThrottlePolicy(
    slow_after=20, lock_after=50, lock_for=timedelta(minutes=15), window=timedelta(minutes=15)
)


def throttle_keys(settings: Settings, email: str, address: str) -> list[tuple[str, ThrottlePolicy]]:
    return [
        (keyed_hash(settings, "account:" + email.strip().lower()), ACCOUNT_POLICY),
        (keyed_hash(settings, "address:" + address), ADDRESS_POLICY),
    ]


async def locked_until(keys: Iterable[tuple[str, ThrottlePolicy]], now: datetime) -> datetime | None:
    """When the latest lock on any of these keys ends, or None when sign-in may be tried now."""
    rows = await LoginThrottle.select(LoginThrottle.locked_until).where(
        LoginThrottle.key.is_in([key for key, _policy in keys]), LoginThrottle.locked_until > now
    )
    ends = [row["locked_until"] for row in rows]
    return max(ends) if ends else None


async def record_failure(keys: Iterable[tuple[str, ThrottlePolicy]], now: datetime) -> None:
    async with write_transaction():
        for key, policy in keys:
            await LoginThrottle.insert(
                LoginThrottle(key=key, failures=0, first_failure_at=now, last_failure_at=now)
            ).on_conflict(action="DO NOTHING", target=LoginThrottle.key)
            row = await LoginThrottle.select().where(LoginThrottle.key == key).first()
            assert row is not None
            failures = row["failures"]
            if row["first_failure_at"] < now - policy.window and not (
                row["locked_until"] and row["locked_until"] > now
            ):
                failures = 0
                await LoginThrottle.update({LoginThrottle.first_failure_at: now}).where(LoginThrottle.key == key)
            failures += 1
            lock = None
            if failures >= policy.lock_after:
                lock = now + policy.lock_for
            elif failures >= policy.slow_after:
                # Slowed: each failure past the threshold doubles the wait, from 5 seconds.
                lock = now + timedelta(seconds=5 * 2 ** (failures - policy.slow_after))
            await LoginThrottle.update(
                {LoginThrottle.failures: failures, LoginThrottle.last_failure_at: now, LoginThrottle.locked_until: lock}
            ).where(LoginThrottle.key == key)


async def clear_account_failures(settings: Settings, email: str) -> None:
    key = keyed_hash(settings, "account:" + email.strip().lower())
    await LoginThrottle.delete().where(LoginThrottle.key == key)


# --- sessions ----------------------------------------------------------------------------------------


def session_cookie_name(settings: Settings) -> str:
    # The __Host- prefix needs Secure; plain-http local development goes without both.
    return "__Host-cosa_session" if settings.cookie_secure else "cosa_session"


def idle_timeout(settings: Settings, role: str) -> timedelta:
    if role == Role.volunteer.value:
        return timedelta(minutes=settings.session_idle_minutes_volunteer)
    return timedelta(minutes=settings.session_idle_minutes_staff)


async def start_session(settings: Settings, user_id: int, now: datetime, *, pending_second_factor: bool = False) -> str:
    """A new session under a new random id. A pending session (password right, second factor not yet
    given) reaches only the second-factor pages and lasts a few minutes."""
    token = new_token()
    lifetime = PENDING_LIFETIME if pending_second_factor else timedelta(hours=settings.session_absolute_hours)
    await UserSession.insert(
        UserSession(
            token_hash=token_hash(token),
            user=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            pending_second_factor=pending_second_factor,
        )
    )
    return token


async def end_all_sessions(user_id: int) -> None:
    await UserSession.delete().where(UserSession.user == user_id)


def session_cookie(settings: Settings, token: str) -> Cookie:
    return Cookie(
        key=session_cookie_name(settings),
        value=token,
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=settings.session_absolute_hours * 3600,
    )


def expired_session_cookie(settings: Settings) -> Cookie:
    return Cookie(
        key=session_cookie_name(settings),
        value="",
        path="/",
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
        max_age=0,
    )


async def resolve_session(settings: Settings, token: str, now: datetime) -> tuple[Any, Any, bool]:
    """(user, session) for a cookie token, or (None, None, expired?) when it signs nobody in."""
    if not token or len(token) > 100:
        return None, None, False
    session = (
        await UserSession.select(*UserSession.all_columns(), *UserSession.user.all_columns())
        .where(UserSession.token_hash == token_hash(token))
        .first()
    )
    if session is None:
        return None, None, False
    user = User(**{key.removeprefix("user."): value for key, value in session.items() if key.startswith("user.")})
    user._exists_in_db = True
    idle_limit = session["last_seen_at"] + idle_timeout(settings, user.role)
    if not user.is_active or now >= session["expires_at"] or now >= idle_limit:
        await UserSession.delete().where(UserSession.id == session["id"])
        return None, None, True
    if now - session["last_seen_at"] >= TOUCH_INTERVAL:
        await UserSession.update({UserSession.last_seen_at: now}).where(UserSession.id == session["id"])
    return user, session, False


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    client = connection.scope.get("client")
    return client[0] if client else "unknown"


async def load_request_user(connection: ASGIConnection[Any, Any, Any, Any]) -> Any:
    """Resolve the signed-in user once per request and set the request's locale."""
    scope = connection.scope
    if "user" in scope:
        return scope["user"]
    settings: Settings = connection.app.state.settings
    token = connection.cookies.get(session_cookie_name(settings), "")
    user, session, expired = await resolve_session(settings, token, utcnow())
    if session is not None and session["pending_second_factor"]:
        # Password given, second factor not yet: signed in to nothing but the second-factor pages.
        scope["pending_user"] = user
        user = None
    scope["user"] = user
    scope["auth"] = session
    scope.setdefault("state", {})["session_expired"] = expired
    saved = user.locale if user is not None and user.locale else connection.cookies.get(LANGUAGE_COOKIE)
    i18n.set_locale(i18n.negotiate(saved, connection.headers.get("accept-language")))
    return user


def session_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})["started_at"] = time.perf_counter()
            await load_request_user(ASGIConnection(scope, receive=receive, send=send))
        await app(scope, receive, send)

    return middleware


# --- guards: every route declares who may use it ------------------------------------------------------


class SignInRequired(Exception):
    """Raised by a guard for an anonymous request; answered with a redirect to the sign-in page."""


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Any]


def _rule(description: str) -> Callable[[Guard], Guard]:
    def mark(guard: Guard) -> Guard:
        guard.access_rule = description  # type: ignore[attr-defined]
        return guard

    return mark


@_rule("anyone, signed in or not")
async def public(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    return None


@_rule("any signed-in user")
async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if await load_request_user(connection) is None:
        raise SignInRequired


@_rule("a session waiting for its second factor")
async def second_factor_pending(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    await load_request_user(connection)
    if connection.scope.get("pending_user") is None:
        raise SignInRequired


def roles(*allowed: Role) -> Guard:
    """Only users with one of these roles; anyone else signed in gets a 404 and an audit row."""
    allowed_values = {role.value for role in allowed}

    @_rule("roles: " + ", ".join(sorted(allowed_values)))
    async def guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
        user = await load_request_user(connection)
        if user is None:
            raise SignInRequired
        if user.role not in allowed_values:
            await deny(connection, "route", handler.handler_name)

    return guard


async def deny(connection: ASGIConnection[Any, Any, Any, Any], object_type: str, object_id: object = "") -> None:
    """Refuse access: audit it, then answer 404 so the refusal does not confirm that anything exists."""
    user = connection.scope.get("user")
    route = connection.scope.get("path_template", "")
    await audit.record(
        audit.Action.ACCESS_REFUSED,
        actor=user,
        object_type=object_type,
        object_id=object_id,
        detail={"route": route, "method": connection.scope.get("method", "")},
    )
    raise NotFoundException()


async def found_or_deny(
    connection: ASGIConnection[Any, Any, Any, Any], row: RowT | None, object_type: str, object_id: object
) -> RowT:
    """Object-level access: features fetch a row with a query already scoped to what the user may reach
    (their region, their circles, their caseload); nothing found means 404 and an audit row, whether the
    object does not exist or is someone else's."""
    if row is None:
        await deny(connection, object_type, object_id)
        raise AssertionError("unreachable: deny() raises")
    return row


def is_staff(user: Any) -> bool:
    return user is not None and Role(user.role) in STAFF_ROLES


staff_only = roles(Role.admin, Role.coordinator, Role.probation)
admin_only = roles(Role.admin)
