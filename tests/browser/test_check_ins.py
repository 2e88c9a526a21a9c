"""A volunteer logs a check-in on a phone: indicators, a dropped connection, the timeline; and its weight."""

from __future__ import annotations

import uuid

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import new_page, serious_accessibility_problems, sign_in

BUDGET_BYTES = 50 * 1024


async def open_form(page: Page, server: str) -> None:
    await page.goto(f"{server}/")
    await page.get_by_role("link", name="Log a check-in").click()
    if await page.get_by_text("Which circle?").count():
        await page.get_by_label("Circle Rowan").check()
        await page.get_by_role("button", name="Continue").click()
    await expect(page.get_by_role("heading", name="Check-in for Circle Rowan")).to_be_visible()


async def test_a_volunteer_logs_a_check_in_even_through_a_dropped_connection(server, browser, phone_profile):
    context, watched = await new_page(browser, **phone_profile, locale="en-GB")
    page = watched.page
    await sign_in(page, server, "volunteer@example.org")
    await open_form(page, server)
    assert await serious_accessibility_problems(page) == []
    note = f"Met at the cafe {uuid.uuid4().hex[:6]}"
    await page.get_by_label("Phone call").check()
    await page.get_by_label("Struggling").check()
    # Two indicators that do not raise a concern by themselves (those that do are tested with concerns).
    await page.get_by_label("Unexplained money, gifts or new phones").check()
    await page.get_by_label("Debt or pressure to repay (including debts from prison)").check()
    await page.get_by_label("Notes (optional)").fill(note)

    await context.set_offline(True)
    await page.get_by_role("button", name="Send check-in").click()
    await expect(page.get_by_text("Not sent: there is no connection.")).to_be_visible()
    await expect(page.get_by_label("Notes (optional)")).to_have_value(note)
    await expect(page.get_by_label("Debt or pressure to repay (including debts from prison)")).to_be_checked()

    await context.set_offline(False)
    await page.get_by_role("button", name="Send check-in").click()
    await expect(page.get_by_text("Check-in sent. Thank you.")).to_be_visible()
    await expect(page.get_by_text(note)).to_have_count(1)  # sent once, shown once
    assert await serious_accessibility_problems(page) == []
    # htmx logs the failed send to the console; nothing else may appear there (CSP violations would).
    assert [p for p in watched.problems if not p.startswith("htmx:")] == []
    await context.close()


@pytest.mark.parametrize("path", ["/", "/check-ins/new"])
async def test_the_volunteer_pages_are_small_enough_for_3g(server, browser, phone_profile, path):
    signed_in_context, signed_in = await new_page(browser, **phone_profile, locale="en-GB")
    await sign_in(signed_in.page, server, "volunteer@example.org")
    # A fresh browser profile (nothing cached) with the same session: the first load of the form.
    context, watched = await new_page(browser, **phone_profile, locale="en-GB")
    await context.add_cookies(await signed_in_context.cookies())
    sizes: list[int] = []

    async def count(response):  # transferred bytes: compressed body plus headers
        s = await response.request.sizes()
        sizes.append(s["responseBodySize"] + s["responseHeadersSize"])

    watched.page.on("response", count)
    await watched.page.goto(f"{server}{path}")
    await watched.page.wait_for_load_state("networkidle")
    total = sum(sizes)
    print(f"{path}, first load on a phone: {total} bytes in {len(sizes)} responses")
    assert 0 < total < BUDGET_BYTES
    await context.close()
    await signed_in_context.close()
