"""The shell in a real browser: sign in and out on a phone, accessibility, Welsh, small screens."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import new_page, serious_accessibility_problems, sign_in


async def test_a_volunteer_signs_in_and_out_on_a_phone(server, phone):
    page = phone.page
    await page.goto(f"{server}/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert await serious_accessibility_problems(page) == []

    await sign_in(page, server, "volunteer@example.org")
    await expect(page.get_by_role("heading", name="Hello, Val Volunteer")).to_be_visible()
    assert await serious_accessibility_problems(page) == []

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_text("You have signed out.")).to_be_visible()
    await page.goto(f"{server}/account/")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert phone.problems == []


async def test_a_wrong_password_is_explained_and_the_email_kept(server, phone):
    page = phone.page
    await page.goto(f"{server}/login")
    await page.get_by_label("Email address").fill("volunteer@example.org")
    await page.get_by_label("Password").fill("not my password at all")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("alert")).to_contain_text("The email address or password is not right")
    await expect(page.get_by_label("Email address")).to_have_value("volunteer@example.org")
    assert await serious_accessibility_problems(page) == []


async def test_the_admin_pages_are_accessible_and_filter_in_place(server, desktop):
    page = desktop.page
    await sign_in(page, server, "admin@example.org")
    await page.get_by_role("link", name="Users").first.click()
    await expect(page.get_by_role("heading", name="Users")).to_be_visible()
    assert await serious_accessibility_problems(page) == []
    await page.get_by_label("Role").select_option("probation")
    await expect(page.get_by_role("link", name="Priya Patel")).to_be_visible()
    await expect(page.get_by_role("link", name="Val Volunteer")).to_have_count(0)
    assert "role=probation" in page.url
    await page.get_by_role("link", name="Invite someone").click()
    await page.get_by_role("button", name="Send invitation").click()
    await expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    assert await serious_accessibility_problems(page) == []
    await page.goto(f"{server}/account/")
    assert await serious_accessibility_problems(page) == []
    assert desktop.problems == []


async def test_welsh_speakers_get_welsh_and_can_switch(server, browser):
    context, watched = await new_page(browser, locale="cy-GB", viewport={"width": 390, "height": 800})
    page = watched.page
    await page.goto(f"{server}/login")
    assert await page.get_attribute("html", "lang") == "cy"
    await expect(page.get_by_role("heading", name="Mewngofnodi")).to_be_visible()
    assert await serious_accessibility_problems(page) == []
    await page.get_by_role("button", name="English").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await context.close()


async def test_pages_fit_a_320_pixel_screen(server, browser):
    context, watched = await new_page(browser, viewport={"width": 320, "height": 640}, locale="en-GB")
    page = watched.page
    await sign_in(page, server, "admin@example.org")
    for path in ("/", "/account/", "/admin/users/", "/admin/users/invite", "/login"):
        await page.goto(f"{server}{path}")
        overflow = await page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, path
    await context.close()
