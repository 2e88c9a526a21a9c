"""Two-step verification in a real browser: a probation officer without one sets it up on a phone at
first sign-in (QR code drawn by the server, key to type by hand, recovery codes shown once), then signs in
with a code; a reused code is refused."""

from __future__ import annotations

import pyotp
from playwright.async_api import expect

from tests.browser.conftest import DEMO_PASSWORD, forget_last_code, serious_accessibility_problems


async def test_a_probation_officer_sets_up_two_step_verification_and_uses_it(server, phone, browser):
    page = phone.page
    await page.goto(f"{server}/escalations/")
    await page.get_by_label("Email address").fill("tom.price@example.org")
    await page.get_by_label("Password").fill(DEMO_PASSWORD)
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.get_by_role("heading", name="Set up two-step verification")).to_be_visible()
    await expect(page.locator(".qr-code svg")).to_be_visible()
    assert await serious_accessibility_problems(page) == []
    # Nothing else is reachable until it is done.
    await page.goto(f"{server}/core-members/")
    await expect(page.get_by_role("heading", name="Set up two-step verification")).to_be_visible()

    key = (await page.locator("[data-manual-key]").inner_text()).replace(" ", "")
    await page.get_by_label("Type the 6-digit code the app now shows").fill(
        "123456" if pyotp.TOTP(key).now() != "123456" else "654321"
    )
    await page.get_by_role("button", name="Turn on two-step verification").click()
    await expect(page.get_by_role("alert")).to_contain_text("That code is not right")
    assert await serious_accessibility_problems(page) == []

    code = pyotp.TOTP(key).now()
    await page.get_by_label("Type the 6-digit code the app now shows").fill(code)
    await page.get_by_role("button", name="Turn on two-step verification").click()
    await expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    await expect(page.locator("[data-recovery-codes] li")).to_have_count(10)
    assert await serious_accessibility_problems(page) == []
    await page.get_by_role("link", name="I have kept my codes safe: continue").click()
    await expect(page.get_by_role("heading", name="Your caseload", level=1)).to_be_visible()  # where they were going

    # Another device, the same code a moment later: refused, it has been used.
    context = await browser.new_context(locale="en-GB")
    other = await context.new_page()
    await other.goto(f"{server}/login")
    await other.get_by_label("Email address").fill("tom.price@example.org")
    await other.get_by_label("Password").fill(DEMO_PASSWORD)
    await other.get_by_role("button", name="Sign in").click()
    await expect(other.get_by_role("heading", name="Enter your code")).to_be_visible()
    await other.get_by_label("Code").fill(code)
    await other.get_by_role("button", name="Continue").click()
    await expect(other.get_by_role("alert")).to_contain_text("used already")
    assert await serious_accessibility_problems(other) == []
    forget_last_code("tom.price@example.org")
    await other.get_by_label("Code").fill(pyotp.TOTP(key).now())
    await other.get_by_role("button", name="Continue").click()
    await expect(other.get_by_role("heading", name="Alerts about your cases")).to_be_visible()
    await context.close()
    assert phone.problems == []
