"""An urgent concern from a phone reaches the probation officer, who acknowledges it from the emailed link."""

from __future__ import annotations

import asyncio
import re
import uuid

from playwright.async_api import expect

from tests.browser.conftest import DEMO_PASSWORD, give_code, new_page, serious_accessibility_problems, sign_in


async def test_an_urgent_concern_reaches_probation_and_is_acknowledged_from_the_email(
    server, browser, phone_profile, mailbox
):
    canary = f"Saw him get into a van with two men {uuid.uuid4().hex[:6]}"
    phone_context, phone = await new_page(browser, **phone_profile, locale="en-GB")
    page = phone.page
    await sign_in(page, server, "volunteer@example.org")
    await page.get_by_role("link", name="Circle Rowan").first.click()
    await page.get_by_role("link", name="Raise a concern").click()
    await expect(page.get_by_text("If someone is in immediate danger, call 999 first.")).to_be_visible()
    await expect(page.get_by_role("link", name="Call 999")).to_have_attribute("href", "tel:999")
    assert await serious_accessibility_problems(page) == []
    before = len(mailbox.to("probation@example.org"))
    await page.get_by_label("Urgent").check()
    await page.get_by_label("What did you see or hear?").fill(canary)
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_text("Your urgent concern has been sent to the probation officer")).to_be_visible()

    for _ in range(100):  # the outbox worker is woken at once; allow a few seconds
        if len(mailbox.to("probation@example.org")) > before:
            break
        await asyncio.sleep(0.1)
    email = mailbox.to("probation@example.org")[-1]
    body = email.get_body(preferencelist=("plain",)).get_content()
    assert "Circle Rowan" in body and canary not in body and "Daniel" not in body
    link = re.search(r"https?://\S+/escalations/\S+", body).group(0)

    desk_context, desk = await new_page(browser, viewport={"width": 1280, "height": 900}, locale="en-GB")
    officer = desk.page
    await officer.goto(link)  # not signed in: the sign-in page, then back to the alert
    await officer.get_by_label("Email address").fill("probation@example.org")
    await officer.get_by_label("Password").fill(DEMO_PASSWORD)
    await officer.get_by_role("button", name="Sign in").click()
    await expect(officer.get_by_role("heading", name="Enter your code")).to_be_visible()
    assert await serious_accessibility_problems(officer) == []
    await give_code(officer, "probation@example.org")
    await expect(officer.get_by_role("heading", name="Alert about Circle Rowan")).to_be_visible()
    await expect(officer.get_by_text(canary)).to_be_visible()
    assert await serious_accessibility_problems(officer) == []
    await officer.get_by_role("button", name="Acknowledge").click()
    await officer.get_by_label("Home visit").check()
    await officer.get_by_label("Notes").fill("Visited the same evening; safe.")
    await officer.get_by_role("button", name="Record action").click()
    await expect(officer.get_by_role("heading", name="Close this alert")).to_be_visible()
    assert await serious_accessibility_problems(officer) == []

    coordinator_context, coordinator = await new_page(browser, viewport={"width": 1280, "height": 900}, locale="en-GB")
    await sign_in(coordinator.page, server, "coordinator@example.org")
    await coordinator.page.goto(link.replace("/escalations/", "/"))  # not a coordinator page: expect a 404
    await expect(coordinator.page.get_by_role("heading", name="Page not found")).to_be_visible()
    await coordinator.page.goto(f"{server}/")
    concerns = coordinator.page.get_by_role("region", name="Concerns")
    await concerns.get_by_role("link", name="Circle Rowan").last.click()
    await expect(coordinator.page.get_by_text("Acknowledged by probation").first).to_be_visible()
    await expect(coordinator.page.get_by_text("(Home visit)")).to_be_visible()
    assert await serious_accessibility_problems(coordinator.page) == []
    await coordinator_context.close()
    await desk_context.close()
    await phone_context.close()
