"""The app over HTTP against a real database (SQLite or PostgreSQL), a real SMTP server, and a cast of users.

The cast, used everywhere: an admin, a coordinator, two volunteers of circle A, a volunteer of circle B,
a probation officer with the case and one without.
"""

from __future__ import annotations

import asyncio
import dataclasses
import html
import re
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import SimpleNamespace
from typing import Any

import pyotp
import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar
from litestar.testing import AsyncTestClient
from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.conf.apps import Finder
from piccolo.engine.postgres import PostgresEngine

from cosa import second_factor
from cosa.app import create_app
from cosa.audit import SQLITE_TRIGGERS
from cosa.auth import hash_password
from cosa.clock import utcnow
from cosa.db import engine
from cosa.settings import Settings, load_settings
from cosa.tables import Region, User

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session", autouse=True)
async def migrated() -> None:
    result = await run_forwards("all")
    assert result.success, result.message


@pytest.fixture(autouse=True)
async def clean_database(migrated: None) -> AsyncIterator[None]:
    yield
    tables = Finder().get_table_classes()
    db = engine()
    if isinstance(db, PostgresEngine):
        names = ", ".join(f'"{t._meta.tablename}"' for t in tables)
        await db.run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        from piccolo.table import sort_table_classes

        # The audit table refuses DELETE (a trigger); the tests lift that for the clean-up only.
        await db.run_ddl("DROP TRIGGER IF EXISTS cosa_audit_no_delete")
        for table in reversed(sort_table_classes(tables)):
            await table.delete(force=True)
        for statement in SQLITE_TRIGGERS:
            await db.run_ddl(statement)


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as client:
        yield client


@pytest.fixture
async def make_client(app: Litestar) -> AsyncIterator[Any]:
    """Open extra clients (other browsers or devices) on the same app."""
    clients: list[AsyncTestClient[Litestar]] = []

    async def make() -> AsyncTestClient[Litestar]:
        c = AsyncTestClient(app=app)
        await c.__aenter__()
        clients.append(c)
        return c

    yield make
    for c in reversed(clients):  # nested portals: close in the reverse order of opening
        await c.__aexit__(None, None, None)


async def create_user(
    settings: Settings,
    email: str,
    role: str,
    *,
    name: str = "",
    active: bool = True,
    locale: str = "",
    password: str | None = PASSWORD,
    now: datetime | None = None,
    region: Region | None = None,
) -> User:
    now = now or utcnow()
    user = User(
        email=email,
        display_name=name or email.split("@")[0].title(),
        role=role,
        is_active=active,
        locale=locale,
        region=region.id if region else None,
        password_hash=await hash_password(settings, password) if password else "",
        created_at=now,
        activated_at=now if password else None,
    )
    await user.save()
    return user


@pytest.fixture
async def cast(settings: Settings) -> SimpleNamespace:
    north = Region(name="North")
    await north.save()
    south = Region(name="South")
    await south.save()
    return SimpleNamespace(
        north=north,
        south=south,
        admin=await create_user(settings, "ada@example.org", "admin", name="Ada Admin"),
        coordinator=await create_user(
            settings, "cara@example.org", "coordinator", name="Cara Coordinator", region=north
        ),
        coordinator_south=await create_user(
            settings, "dan@example.org", "coordinator", name="Dan Coordinator", region=south
        ),
        volunteer_a1=await create_user(settings, "alice@example.org", "volunteer", name="Alice Volunteer"),
        volunteer_a2=await create_user(settings, "bob@example.org", "volunteer", name="Bob Volunteer"),
        volunteer_b=await create_user(settings, "charlie@example.org", "volunteer", name="Charlie Volunteer"),
        probation=await create_user(settings, "priya@example.org", "probation", name="Priya Probation", region=north),
        probation_other=await create_user(
            settings, "oscar@example.org", "probation", name="Oscar Probation", region=north
        ),
    )


def cookie(client: AsyncTestClient[Litestar], *names: str) -> str:
    """The newest value of the first of these cookies the client holds."""
    for name in names:
        values = [c.value for c in client.cookies.jar if c.name == name]
        if values:
            return values[-1] or ""
    return ""


def csrf_token(client: AsyncTestClient[Litestar]) -> str:
    return cookie(client, "csrftoken", "__Host-csrftoken")


async def form_post(client: AsyncTestClient[Litestar], url: str, data: dict[str, str] | None = None, **kw: Any) -> Any:
    """POST a form the way a browser does: with the CSRF token from the cookie the app set."""
    if not csrf_token(client):
        await client.get("/login")
    return await client.post(
        url, data={**(data or {}), "_csrf_token": csrf_token(client)}, follow_redirects=False, **kw
    )


async def login(client: AsyncTestClient[Litestar], email: str, password: str = PASSWORD) -> Any:
    """Sign in as a browser does, completing the second factor for staff (and volunteers who use one).
    Returns the final redirect, whose Location is where the sign-in leads."""
    await client.get("/login")
    response = await form_post(client, "/login", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    return await finish_second_factor(client, response, email)


async def enrol_second_factor(email: str) -> str:
    """Give the user a second factor directly in the database (test set-up; tests/integration/cosa/
    test_second_factor.py covers enrolling through the pages). Returns the secret."""
    settings = load_settings()
    user = await User.select(User.totp_secret, User.totp_enabled_at).where(User.email == email).first()
    assert user is not None
    secret = second_factor.unseal(settings, user["totp_secret"]) if user["totp_enabled_at"] else None
    if secret is None:
        secret = second_factor.new_secret()
        await User.update(
            {User.totp_secret: second_factor.seal(settings, secret), User.totp_enabled_at: utcnow()}
        ).where(User.email == email)
    return secret


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


async def finish_second_factor(client: AsyncTestClient[Litestar], response: Any, email: str) -> Any:
    """When a sign-in answered with the second-factor page, give a current code. The test forgets the last
    code used first, so one test can sign the same person in more than once within 30 seconds; the
    refusal of a reused code has its own test."""
    if not response.headers.get("location", "").startswith("/login/second-factor"):
        return response
    secret = await enrol_second_factor(email)
    await User.update({User.totp_last_step: None}).where(User.email == email)
    page = await client.get(response.headers["location"])
    assert page.status_code == 200, page.text
    form = page.text[page.text.index('action="/login/second-factor"') :]
    next_value = re.search(r'name="next" value="([^"]*)"', form)
    data = {"code": current_code(secret), "next": html.unescape(next_value.group(1)) if next_value else ""}
    final = await form_post(client, "/login/second-factor", data)
    assert final.status_code == 303, final.text
    return final


def session_cookie(client: AsyncTestClient[Litestar]) -> str:
    return cookie(client, "cosa_session", "__Host-cosa_session")


class Inbox:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = free_port()
        self.controller: Controller | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    @staticmethod
    def body(message: EmailMessage) -> str:
        part = message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())  # type: ignore[union-attr]

    def link_in(self, message: EmailMessage) -> str:
        match = re.search(r"https?://\S+", self.body(message))
        assert match, self.body(message)
        return match.group(0)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    box.start()
    yield box
    box.stop()


@pytest.fixture
def mail_settings(settings: Settings, inbox: Inbox) -> Settings:
    return dataclasses.replace(settings, smtp_port=inbox.port)


@pytest.fixture
def mail_app(mail_settings: Settings) -> Litestar:
    return create_app(mail_settings)


@pytest.fixture
async def mail_client(mail_app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=mail_app) as client:
        yield client


async def settle() -> None:
    await asyncio.sleep(0)


class QueryCounter:
    """Counts the SQL statements Piccolo runs (in any thread) while installed."""

    def __init__(self, monkeypatch: Any) -> None:
        self.count = 0
        engine_class = type(engine())
        original = engine_class.run_querystring

        async def counting(engine_self: Any, *args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return await original(engine_self, *args, **kwargs)

        monkeypatch.setattr(engine_class, "run_querystring", counting)

    async def during(self, action: Any) -> int:
        before = self.count
        await action
        return self.count - before
