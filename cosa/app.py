"""create_app(): routes, middleware, security headers, error pages and the lifespan (pool, scheduler, outbox)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import AsyncIterator
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.compression import CompressionConfig
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException, InternalServerException, NotFoundException
from litestar.middleware import DefineMiddleware
from litestar.middleware.compression import CompressionMiddleware
from litestar.plugins.htmx import HTMXPlugin, HTMXRequest
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Receive, Scope, Send

from circles import controllers as circle_controllers
from cosa import outbox, second_factor_pages
from cosa.accounts import AccountController, AuthController, InvitationController, switch_language
from cosa.admin import RegionAdminController, UserAdminController
from cosa.audit_pages import AuditController
from cosa.auth import SignInRequired, public, session_middleware
from cosa.controllers import dev_mail, dev_mail_message, healthz
from cosa.csrf import csrf_middleware
from cosa.db import close_pool, prepare_database, start_pool
from cosa.scheduler import start_scheduler
from cosa.settings import Settings, get_settings
from cosa.web import STATIC_DIR, before_send, http_exception_handler, make_environment
from volunteers import controllers as volunteer_controllers

# Database drivers log query parameters at DEBUG: personal data. They stay quiet whatever LOG_LEVEL says.
QUIET_LOGGERS = ("aiosqlite", "asyncpg", "piccolo", "aiosmtplib", "mail.log", "uvicorn.access")


def configure_logging(settings: Settings) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


async def ensure_reference_data() -> None:
    """Rows every installation needs (idempotent, safe when several processes start at once)."""
    from circles.indicators import ensure_built_in

    await ensure_built_in()


def static_file_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Static files: an address that cannot name a file (a NUL in it, a name too long for the file system, a
    file used as a folder) is a page not found. Litestar's router answers those with a server error."""
    cause = exc if isinstance(exc, ValueError) else exc.__cause__
    impossible = (errno.ENAMETOOLONG, errno.ENOTDIR, errno.ELOOP)
    if isinstance(cause, ValueError) or (isinstance(cause, OSError) and cause.errno in impossible):
        return http_exception_handler(request, NotFoundException())
    return http_exception_handler(request, exc)


def admission_control(limit: int) -> Any:
    """Let at most `limit` requests run at once in this process; the rest wait their turn, in order.

    One process serves on one CPU core. When it is saturated, every extra request in flight only stretches
    the others: a writer holding SQLite's write lock waits behind all of them between its statements, and
    the writers queued behind it wait longer still. Letting a few in at a time keeps each request, and each
    write lock, short; the same work is done, in a fairer order (bench/load.py, 50 users: p95 on SQLite from
    3.6 s to 0.8 s, on PostgreSQL from 0.8 s to 0.4 s, at the same throughput). 0 means no limit.
    """

    # Litestar builds the middleware stack once per route: the slots are shared by all of them.
    slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    def middleware(app: ASGIApp) -> ASGIApp:
        if limit <= 0:
            return app

        async def limited(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            loop = asyncio.get_running_loop()
            slot = slots.get(loop) or slots.setdefault(loop, asyncio.Semaphore(limit))
            async with slot:
                await app(scope, receive, send)

        return limited

    return middleware


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await prepare_database()
        await start_pool(settings.database_pool_size)
        await ensure_reference_data()
        scheduler = start_scheduler(settings) if settings.scheduler_enabled else None
        worker = asyncio.create_task(outbox.run_worker(settings)) if settings.scheduler_enabled else None
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown(wait=False)
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await close_pool()

    handlers: list[Any] = [
        healthz,
        switch_language,
        AuthController,
        AccountController,
        InvitationController,
        *second_factor_pages.ROUTES,
        UserAdminController,
        RegionAdminController,
        AuditController,
        *circle_controllers.ROUTES,
        *volunteer_controllers.ROUTES,
        create_static_files_router(
            path="/static",
            directories=[STATIC_DIR],
            name="static",
            guards=[public],
            exception_handlers={InternalServerException: static_file_error, ValueError: static_file_error},
            # Only static files are compressed: compressing pages that hold a CSRF token next to text the
            # user typed would open them to BREACH-style guessing.
            middleware=[DefineMiddleware(CompressionMiddleware, config=CompressionConfig(backend="gzip"))],
        ),
    ]
    if settings.env == "development":
        handlers += [dev_mail, dev_mail_message]

    csrf_cookie = "__Host-csrftoken" if settings.cookie_secure else "csrftoken"
    return Litestar(
        route_handlers=handlers,
        state=State({"settings": settings, "jinja": make_environment(auto_reload=settings.env == "development")}),
        lifespan=[lifespan],
        middleware=[
            admission_control(settings.requests_at_once),
            session_middleware,
            csrf_middleware(
                CSRFConfig(
                    secret=settings.secret_key,
                    cookie_name=csrf_cookie,
                    cookie_secure=settings.cookie_secure,
                    cookie_httponly=True,
                    cookie_samesite="lax",
                    header_name="x-csrftoken",
                )
            ),
        ],
        plugins=[HTMXPlugin()],
        request_class=HTMXRequest,
        before_send=[before_send],
        exception_handlers={
            HTTPException: http_exception_handler,
            SignInRequired: http_exception_handler,
            Exception: http_exception_handler,
        },
        openapi_config=None,
        logging_config=None,  # logging is configured once, by us: Litestar's would replace the root handlers
        debug=False,
    )
