"""The data retention page in a real browser: reachable from the admin's navigation, accessible, and usable
on a 320-pixel screen, with a refused period explained beside the field and kept."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import new_page, serious_accessibility_problems, sign_in


async def test_an_admin_is_told_why_a_period_below_the_legal_minimum_is_refused(server, browser):
    context, watched = await new_page(browser, viewport={"width": 320, "height": 640}, locale="en-GB")
    page = watched.page
    await sign_in(page, server, "admin@example.org")
    await page.goto(f"{server}/admin/retention")
    await expect(page.get_by_role("heading", name="Data retention", level=1)).to_be_visible()
    assert await serious_accessibility_problems(page) == []

    field = page.get_by_label("Days to keep: Closed circles")
    await field.fill("1000")
    await page.get_by_role("button", name="Save: Closed circles").click()
    await expect(page.get_by_role("alert")).to_contain_text("This cannot be shorter than 2192 days")
    await expect(page.get_by_label("Days to keep: Closed circles")).to_have_value("1000")
    assert await serious_accessibility_problems(page) == []
    overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    assert watched.problems == []
    await context.close()
