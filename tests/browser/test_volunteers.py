"""The volunteer pipeline in a real browser: filtering the list, an application, vetting, status."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

from playwright.async_api import expect

from tests.browser.conftest import serious_accessibility_problems, sign_in


async def test_a_coordinator_filters_adds_an_application_and_vets_a_volunteer(server, desktop):
    page = desktop.page
    await sign_in(page, server, "coordinator@example.org")
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Volunteers").click()
    await expect(page.get_by_role("heading", name="Volunteers", level=1)).to_be_visible()
    listing = page.locator("#volunteer-list")
    await expect(listing.get_by_role("link", name="Val Volunteer")).to_be_visible()
    assert await serious_accessibility_problems(page) == []

    # Choosing a status filters the list in place, and the address can be shared.
    await page.evaluate("window.__notReloaded = true")
    await page.get_by_label("Status", exact=True).select_option(label="Applicant")
    await expect(listing.get_by_role("link", name="Val Volunteer")).to_have_count(0)
    await expect(listing.get_by_role("link", name="Rosa Delgado")).to_be_visible()
    await expect(listing.get_by_role("link", name="Sami Yusuf")).to_be_visible()
    await expect(listing.get_by_role("link", name=re.compile(r"^Applicant \(\d+\)$"))).to_have_attribute(
        "aria-current", "page"
    )
    await expect(page).to_have_url(re.compile(r"status=applicant"))
    assert await page.evaluate("window.__notReloaded === true")
    assert await serious_accessibility_problems(page) == []

    # A new application with a mistake: a home district that is not a postcode district.
    await page.get_by_role("link", name="Add an application").click()
    await expect(page.get_by_role("heading", name="Add an application", level=1)).to_be_visible()
    suffix = uuid.uuid4().hex[:6]
    name = f"Nia Testvolunteer {suffix}"
    email = f"nia.{suffix}@volunteers.example"
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_label("Email address").fill(email)
    await page.get_by_label("Woman", exact=True).check()
    await page.get_by_label("English", exact=True).check()
    await page.get_by_label("Welsh", exact=True).check()
    await page.get_by_label("Home postcode district").fill("Nottingham")
    await page.get_by_label("Monday Evening").check()
    await page.get_by_label("Thursday Evening").check()
    await page.get_by_role("button", name="Add application").click()

    summary = page.get_by_role("alert").filter(has=page.get_by_role("heading", name="There is a problem"))
    await expect(summary).to_be_visible()
    await expect(summary.get_by_role("link")).to_have_count(1)
    await expect(summary.get_by_role("link")).to_contain_text("Enter the first part of a UK postcode")
    await expect(page.locator("#home_district-error")).to_contain_text("like NG7 or CF10")
    await expect(page.get_by_label("Home postcode district")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    await expect(page.get_by_label("Email address")).to_have_value(email)
    await expect(page.get_by_label("Woman", exact=True)).to_be_checked()
    await expect(page.get_by_label("English", exact=True)).to_be_checked()
    await expect(page.get_by_label("Welsh", exact=True)).to_be_checked()
    await expect(page.get_by_label("Monday Evening")).to_be_checked()
    await expect(page.get_by_label("Thursday Evening")).to_be_checked()
    await expect(page.get_by_label("Monday Morning")).not_to_be_checked()
    assert await serious_accessibility_problems(page) == []

    await page.get_by_label("Home postcode district").fill("ng7 1ab")
    await page.get_by_role("button", name="Add application").click()
    await expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    await expect(page.get_by_text("Application added.")).to_be_visible()
    profile = page.get_by_role("region", name="Profile")
    await expect(profile).to_contain_text("NG7")
    await expect(profile).not_to_contain_text("1AB")
    await expect(profile).to_contain_text("Monday evening")
    assert await serious_accessibility_problems(page) == []

    # Vetting dates: the checklist and what is still needed change in place.
    vetting = page.locator("#vetting")
    still_needed = vetting.locator("#still-needed + ul")
    await expect(still_needed).to_contain_text("Hold their interview and record the date.")
    await expect(vetting.get_by_role("row", name=re.compile("^Interview"))).to_contain_text("To do")
    detail_url = page.url
    await page.evaluate("window.__notReloaded = true")
    today = date.today()
    await vetting.get_by_text("Record vetting and training dates").click()
    await vetting.get_by_label("Interview", exact=True).fill((today - timedelta(days=30)).isoformat())
    await vetting.get_by_label("First reference received").fill((today - timedelta(days=20)).isoformat())
    await vetting.get_by_label("Second reference received").fill((today - timedelta(days=15)).isoformat())
    await vetting.get_by_label("Enhanced DBS certificate issued").fill((today - timedelta(days=10)).isoformat())
    assert await serious_accessibility_problems(page) == []  # with the form open
    await vetting.get_by_role("button", name="Save dates").click()
    vetting = page.locator("#vetting")  # swapped for a new one
    await expect(vetting.get_by_role("status")).to_have_text("Vetting and training dates saved.")
    await expect(vetting.get_by_role("row", name=re.compile("^Interview"))).to_contain_text("Done")
    await expect(vetting.get_by_role("row", name=re.compile("^Second reference received"))).to_contain_text("Done")
    await expect(vetting.get_by_role("row", name=re.compile("^DBS certificate expires"))).to_contain_text("In date")
    await expect(vetting.get_by_role("row", name=re.compile("^CoSA core training"))).to_contain_text("To do")
    still_needed = vetting.locator("#still-needed + ul")
    await expect(still_needed).not_to_contain_text("interview")
    await expect(still_needed).not_to_contain_text("references")
    await expect(still_needed).not_to_contain_text("DBS")
    await expect(still_needed.get_by_role("listitem")).to_have_count(3)  # the three trainings
    assert page.url == detail_url
    assert await page.evaluate("window.__notReloaded === true")
    assert await serious_accessibility_problems(page) == []

    # Along the pipeline to trained; becoming active before the training is done says what is missing.
    status = page.get_by_role("region", name="Status")
    for label in ("In vetting", "Trained"):
        await status.get_by_label(label, exact=True).check()
        await status.get_by_role("button", name="Change status").click()
        await expect(page.get_by_text(f"Status changed to ‘{label}’.")).to_be_visible()
    await expect(status.get_by_label("Active", exact=True)).to_be_visible()
    await status.get_by_label("Active", exact=True).check()
    await status.get_by_role("button", name="Change status").click()
    summary = page.get_by_role("alert").filter(has=page.get_by_role("heading", name="There is a problem"))
    await expect(summary).to_contain_text("They cannot become active yet.")
    message = page.locator("#to_status-error")
    await expect(message).to_contain_text("They need to complete the CoSA core training.")
    await expect(message).to_contain_text("modern slavery and human trafficking awareness training")
    await expect(message).to_contain_text("trauma-informed practice training")
    await expect(message).not_to_contain_text("interview")
    await expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    await expect(status).to_contain_text("Their status is Trained")
    assert await serious_accessibility_problems(page) == []
    assert desktop.problems == []
