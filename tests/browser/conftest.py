"""Browser tests: the real app served by uvicorn on a loopback port, driven by Debian's headless Chromium.

Playwright's async API only (the sync one and pytest-asyncio break each other in one process).
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pyotp
import pytest
from aiosmtpd.controller import Controller
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DEMO_PASSWORD = "circles-demo-password"
DEMO_TOTP_SECRET = "COSADEMOCOSADEMOCOSADEMOCOSADEMO"  # cosa/demo.py: the demo staff's authenticator key
DATABASE: dict[str, Path] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mailbox:
    """A real SMTP server on loopback, keeping every message the app sends during the browser tests."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=free_port())

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


MAILBOX = Mailbox()


@pytest.fixture(scope="session")
def mailbox() -> Mailbox:
    return MAILBOX


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """A fresh database with the demo data, and the app serving it, as `make run` would, with its scheduler
    and mail worker sending to a real SMTP server on loopback."""
    workdir = Path(tempfile.mkdtemp(prefix="cosa-browser-"))
    DATABASE["path"] = workdir / "browser.sqlite3"
    port = free_port()
    MAILBOX.controller.start()
    env = {
        **os.environ,
        "COSA_ENV": "test",
        "COSA_DEMO_DATA": "1",
        "COSA_SCHEDULER": "1",
        "DATABASE_URL": f"sqlite:///{workdir / 'browser.sqlite3'}",
        "BASE_URL": f"http://127.0.0.1:{port}",
        "SMTP_PORT": str(MAILBOX.controller.port),
    }
    subprocess.run([sys.executable, "-m", "cosa", "seed-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    log = (workdir / "server.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "cosa.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "server.log").read_text()) from None
            time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=10)
    MAILBOX.controller.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


@pytest.fixture(scope="session")
async def phone_profile() -> dict[str, Any]:
    async with async_playwright() as playwright:
        return dict(playwright.devices["Pixel 7"])


class Watched:
    """A page that records script errors and console errors such as CSP violations.

    "Failed to load resource" is left out: the app answers bad input with a 4xx on purpose."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.problems.append(str(e)))

    def _console(self, message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(message.text)


async def new_page(browser: Browser, **context_options: Any) -> tuple[BrowserContext, Watched]:
    context = await browser.new_context(**context_options)
    page = await context.new_page()
    return context, Watched(page)


@pytest.fixture
async def phone(browser: Browser, phone_profile: dict[str, Any]) -> AsyncIterator[Watched]:
    context, watched = await new_page(browser, **phone_profile, locale="en-GB")
    yield watched
    await context.close()


@pytest.fixture
async def desktop(browser: Browser) -> AsyncIterator[Watched]:
    context, watched = await new_page(browser, viewport={"width": 1280, "height": 900}, locale="en-GB")
    yield watched
    await context.close()


async def serious_accessibility_problems(page: Page) -> list[str]:
    results = await Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def forget_last_code(email: str) -> None:
    """A code works once per 30 seconds; the tests sign the same demo staff in many times, so they forget
    the last one used (test set-up, straight in the database; the refusal itself is tested elsewhere)."""
    with sqlite3.connect(DATABASE["path"]) as connection:
        connection.execute("UPDATE cosa_user SET totp_last_step = NULL WHERE email = ?", (email,))


async def sign_in(page: Page, base: str, email: str, password: str = DEMO_PASSWORD) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_load_state("networkidle")
    if "/login/second-factor" in page.url:  # staff: the code from the authenticator app
        await give_code(page, email)


async def give_code(page: Page, email: str) -> None:
    """Answer the second-factor page with the demo staff's current code."""
    forget_last_code(email)
    # By name, not label: Welsh-speaking staff see the page in Welsh.
    await page.locator("input[name=code]").fill(pyotp.TOTP(DEMO_TOTP_SECRET).now())
    await page.locator("main form button[type=submit]").click()
    await page.wait_for_load_state("networkidle")
