"""Circles in a real browser: the coordinator's dashboard, referrals, needs, risk connections, opening and
moving circles, matching; a volunteer answering an invitation on a phone; probation; Welsh.

The server and its demo data are shared by the whole session, so a test that changes something works on
a core member or volunteer it creates itself (with a unique name), or on demo data no other test reads.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

from playwright.async_api import Page, expect

from tests.browser.conftest import new_page, serious_accessibility_problems, sign_in


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:6]}"


async def mark_page(page: Page) -> None:
    """Leave a mark on the window: it survives an htmx swap and is lost on a full page load."""
    await page.evaluate("window.__notReloaded = true")


async def still_same_page(page: Page) -> bool:
    return bool(await page.evaluate("window.__notReloaded === true"))


async def scrolls_sideways(page: Page) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))


async def test_a_coordinator_records_a_referral_assesses_it_and_opens_a_circle(server, desktop):
    page = desktop.page
    await sign_in(page, server, "coordinator@example.org")

    # The dashboard: the region's open circles and what needs attention.
    await expect(page.get_by_role("heading", name="Dashboard", level=1)).to_be_visible()
    circles = page.get_by_role("table", name="Circles in your region")
    for code_name in ("Circle Rowan", "Circle Hazel", "Circle Alder", "Circle Birch"):
        await expect(circles.get_by_role("link", name=code_name, exact=True)).to_be_visible()
    await expect(circles.get_by_role("link", name="Circle Oak")).to_have_count(0)  # closed
    alerts = page.get_by_role("region", name="Needs your attention")
    await expect(alerts.get_by_role("heading", name="DBS check expired")).to_be_visible()
    await expect(alerts.get_by_role("link", name="Elena Marin")).to_be_visible()
    assert await serious_accessibility_problems(page) == []

    # A referral with one mistake: the name left empty.
    await page.get_by_role("link", name="Record a referral").click()
    await expect(page.get_by_role("heading", name="Record a referral", level=1)).to_be_visible()
    released = date.today() - timedelta(days=14)
    licence_ends = released + timedelta(days=365)
    await page.get_by_label("Survivor of modern slavery or trafficking", exact=True).check()
    await page.get_by_label("Polish", exact=True).check()
    await page.get_by_label("English", exact=True).check()
    await page.get_by_label("Postcode district of their address (optional)").fill("NG7")
    await page.get_by_label("Release date (optional)").fill(released.isoformat())
    await page.get_by_label("Licence end date (optional)").fill(licence_ends.isoformat())
    await page.get_by_label("Probation officer").select_option(label="Priya Patel")
    await page.get_by_role("button", name="Record referral").click()

    summary = page.get_by_role("alert").filter(has=page.get_by_role("heading", name="There is a problem"))
    await expect(summary).to_be_visible()
    await expect(summary.get_by_role("link", name="Enter the core member's full name.")).to_be_visible()
    await expect(page.locator("#full_name-error")).to_contain_text("Enter the core member's full name.")
    await expect(page.get_by_label("Full name")).to_have_attribute("aria-invalid", "true")
    # Everything else typed or chosen is still there.
    await expect(page.get_by_label("Survivor of modern slavery or trafficking", exact=True)).to_be_checked()
    await expect(page.get_by_label("Polish", exact=True)).to_be_checked()
    await expect(page.get_by_label("English", exact=True)).to_be_checked()
    await expect(page.get_by_label("French", exact=True)).not_to_be_checked()
    await expect(page.get_by_label("Postcode district of their address (optional)")).to_have_value("NG7")
    await expect(page.get_by_label("Release date (optional)")).to_have_value(released.isoformat())
    await expect(page.get_by_label("Licence end date (optional)")).to_have_value(licence_ends.isoformat())
    await expect(page.get_by_label("Date of referral")).to_have_value(re.compile(r"\d{4}-\d{2}-\d{2}"))
    officer = page.get_by_label("Probation officer")
    assert await officer.evaluate("select => select.selectedOptions[0].textContent.trim()") == "Priya Patel"
    assert await serious_accessibility_problems(page) == []

    name = unique("Adam Testperson")
    await page.get_by_label("Full name").fill(name)
    await page.get_by_role("button", name="Record referral").click()
    await expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    await expect(page.get_by_text("The referral is recorded.")).to_be_visible()
    await expect(page.get_by_text("Polish, English").or_(page.get_by_text("English, Polish"))).to_be_visible()
    assert await serious_accessibility_problems(page) == []

    # A need's status changes in place (htmx), without reloading the page or changing its address.
    record_url = page.url
    await mark_page(page)
    needs = page.locator("#needs")
    await needs.get_by_label("Status of Accommodation").select_option(label="Unmet")
    await expect(needs.get_by_role("status")).to_have_text("Accommodation: now unmet.")
    await expect(needs.get_by_label("Status of Accommodation")).to_have_value("unmet")
    await expect(needs).to_contain_text("1 unmet, 0 partly met, 0 met, 7 not yet assessed.")
    assert page.url == record_url
    assert await still_same_page(page)
    assert await serious_accessibility_problems(page) == []

    # A risk connection in NG7, known for cuckooing: their address is there too, so a warning shows.
    connections = page.locator("#connections")
    await connections.get_by_text("Add a risk connection").click()
    await connections.get_by_label("A place", exact=True).check()
    await connections.get_by_label("Description").fill("A flat on Hartley Road used by the recruiters")
    await connections.get_by_label("Postcode districts (optional)").fill("ng7")
    await connections.get_by_label("An address here is known for cuckooing").check()
    assert await serious_accessibility_problems(page) == []  # with the form open
    await connections.get_by_role("button", name="Add risk connection").click()
    await expect(page.get_by_text("The risk connection is recorded.")).to_be_visible()
    card = page.locator("#connections li").filter(has_text="Hartley Road")
    await expect(card).to_contain_text("Known for cuckooing")
    await expect(card).to_contain_text("Postcode districts: NG7")
    await expect(
        page.get_by_role("alert").filter(
            has_text="Their address is in NG7, a district linked to their risk connections."
        )
    ).to_contain_text("An address there is known for cuckooing.")
    assert await serious_accessibility_problems(page) == []

    # Open a circle with a code name and a usual meeting.
    await page.get_by_role("link", name="Open a circle").click()
    await expect(page.get_by_role("heading", name=f"Open a circle for {name}")).to_be_visible()
    assert await serious_accessibility_problems(page) == []
    code_name = unique("Circle Sycamore")
    await page.get_by_label("Code name").fill(code_name)
    await page.get_by_label("Usual meeting day (optional)").select_option(label="Monday")
    await page.get_by_label("Usual meeting time (optional)").fill("18:30")
    await page.get_by_label("Usual venue (optional)").fill("Community centre, room 1")
    await page.get_by_label("Venue postcode district (optional)").fill("NG1")
    await page.get_by_role("button", name="Open circle").click()

    await expect(page.get_by_role("heading", name=code_name, level=1)).to_contain_text("Referred")
    await expect(page.get_by_text("The circle is open.")).to_be_visible()
    details = page.get_by_role("region", name="Details")
    await expect(details).to_contain_text("Monday, 18:30")
    await expect(details).to_contain_text("Community centre, room 1 (NG1)")
    await expect(page.get_by_role("region", name="Timeline")).to_contain_text("Opened as Referred")
    assert await serious_accessibility_problems(page) == []
    assert desktop.problems == []


async def test_matching_explains_who_is_proposed_and_inviting_happens_in_place(server, desktop):
    page = desktop.page
    await sign_in(page, server, "coordinator@example.org")
    await page.get_by_role("link", name="Circle Hazel", exact=True).click()
    await expect(page.get_by_role("heading", name="Circle Hazel", level=1)).to_be_visible()
    await page.get_by_role("link", name="Find volunteers").click()
    await expect(page.get_by_role("heading", name="Find volunteers for Circle Hazel", level=1)).to_be_visible()

    proposed = page.get_by_role("region", name=re.compile(r"volunteers? proposed$"))
    cards = proposed.get_by_role("listitem").filter(has=page.get_by_role("heading", level=3))
    assert await cards.count() >= 1
    first = cards.first
    await expect(first.get_by_text(re.compile(r"Score -?\d+"))).to_be_visible()
    await expect(
        first.get_by_text(re.compile(r"vailable at the circle's usual time \(Monday evening\)"))
    ).to_be_visible()
    await expect(first.get_by_text(re.compile(r"km from the venue"))).to_be_visible()

    not_proposed = page.get_by_role("region", name=re.compile(r"volunteers? not proposed$"))
    hannah = not_proposed.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Hannah Brooks"))
    elena = not_proposed.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Elena Marin"))
    await expect(hannah).to_be_hidden()  # inside the closed <details>
    await not_proposed.get_by_text("Show who is not proposed, and why").click()
    await expect(hannah).to_be_visible()
    await expect(hannah).to_contain_text("Has declared links to NG3, where the core member has known risk connections")
    await expect(elena).to_contain_text("DBS check expired on")
    # Someone already invited or in the circle is never proposed again.
    beth = not_proposed.get_by_role("listitem").filter(has=page.get_by_role("heading", name="Beth Collins"))
    await expect(beth).to_contain_text("Already invited to or a member of this circle")
    await expect(proposed.get_by_role("heading", name="Hannah Brooks")).to_have_count(0)
    await expect(proposed.get_by_role("heading", name="Elena Marin")).to_have_count(0)
    assert await serious_accessibility_problems(page) == []

    # Invite the best match: the button gives way to a confirmation, in place.
    volunteer = (await first.get_by_role("heading", level=3).get_by_role("link").inner_text()).strip()
    matching_url = page.url
    await mark_page(page)
    await first.get_by_role("button", name=f"Invite {volunteer}").click()
    await expect(first.get_by_role("status")).to_have_text(
        f"{volunteer} is invited. They accept or decline from their own account."
    )
    await expect(first.get_by_role("button", name=re.compile("^Invite"))).to_have_count(0)
    assert page.url == matching_url
    assert await still_same_page(page)
    assert await serious_accessibility_problems(page) == []
    assert desktop.problems == []


async def test_a_circle_moves_through_its_stages_and_explains_what_stops_it(server, desktop):
    page = desktop.page
    await sign_in(page, server, "coordinator@example.org")
    await page.get_by_role("link", name="Circle Willow", exact=True).click()
    heading = page.get_by_role("heading", name="Circle Willow", level=1)
    await expect(heading).to_contain_text("Referred")
    stage = page.get_by_role("region", name="Stage")
    await expect(stage).to_contain_text("needs at least 3 volunteers who have accepted (now 0)")
    assert await serious_accessibility_problems(page) == []

    await stage.get_by_label("Move the circle to").select_option(label="Accepted")
    await stage.get_by_role("button", name="Move the circle").click()
    await expect(page.get_by_text("The circle is now: accepted.")).to_be_visible()
    await expect(heading).to_contain_text("Accepted")

    await stage.get_by_label("Move the circle to").select_option(label="Forming")
    await stage.get_by_role("button", name="Move the circle").click()
    await expect(page.get_by_text("The circle is now: forming.")).to_be_visible()
    await expect(heading).to_contain_text("Forming")

    # Active is offered, but a forming circle with no volunteers and no covenant cannot go there yet.
    await stage.get_by_label("Move the circle to").select_option(label="Active")
    await stage.get_by_role("button", name="Move the circle").click()
    summary = page.get_by_role("alert").filter(has=page.get_by_role("heading", name="There is a problem"))
    await expect(summary).to_contain_text(
        "A circle needs at least 3 volunteers who have accepted before it can become active."
    )
    await expect(page.locator("#state-error")).to_contain_text("at least 3 volunteers")
    await expect(heading).to_contain_text("Forming")
    assert await serious_accessibility_problems(page) == []

    timeline = page.get_by_role("region", name="Timeline").get_by_role("listitem")
    await expect(timeline).to_have_count(3)
    await expect(timeline.nth(0)).to_contain_text("Accepted to Forming")
    await expect(timeline.nth(1)).to_contain_text("Referred to Accepted")
    await expect(timeline.nth(2)).to_contain_text("Opened as Referred")
    await expect(timeline.nth(0)).to_contain_text("Cara Coordinator")
    assert desktop.problems == []


async def test_a_volunteer_accepts_an_invitation_on_a_phone_and_sees_only_what_they_need(server, phone):
    page = phone.page
    await sign_in(page, server, "volunteer@example.org")
    await expect(page.get_by_role("heading", name="Hello, Val Volunteer")).to_be_visible()
    invitations = page.get_by_role("region", name="Invitations")
    await expect(invitations.get_by_role("heading", name="Join Circle Hazel?")).to_be_visible()
    await expect(
        page.get_by_role("region", name="Your circles").get_by_role("link", name="Circle Rowan")
    ).to_be_visible()
    assert not await scrolls_sideways(page)
    assert await serious_accessibility_problems(page) == []

    await invitations.get_by_role("button", name="Accept Circle Hazel").click()
    await expect(page.get_by_role("heading", name="Circle Hazel", level=1)).to_be_visible()
    await expect(page.get_by_text("Thank you. You are now part of this circle.")).to_be_visible()
    await expect(page.get_by_role("button", name="Accept")).to_have_count(0)
    body = page.locator("main")
    await expect(body.locator("dd").filter(has_text="Beth Collins")).to_contain_text("Val Volunteer")
    await expect(body).to_contain_text("enjoys football")
    # Need to know: no offence details, order conditions, NRM record or risk connections.
    for secret in ("Car wash", "Radford Road", "Sneinton", "recruitment network", "Modern Slavery Act", "NRM"):
        await expect(body).not_to_contain_text(secret)
    assert not await scrolls_sideways(page)
    assert await serious_accessibility_problems(page) == []

    # Circle Rowan is where the car wash on Radford Road is a risk connection: still not shown to her.
    await page.goto(f"{server}/")
    await expect(page.get_by_role("region", name="Invitations")).to_have_count(0)
    await page.get_by_role("region", name="Your circles").get_by_role("link", name="Circle Rowan").click()
    await expect(page.get_by_role("heading", name="Circle Rowan", level=1)).to_be_visible()
    await expect(body).to_contain_text("enjoys football")
    for secret in ("Car wash", "car wash", "Radford Road", "Uncle", "cuckooing"):
        await expect(body).not_to_contain_text(secret)
    assert not await scrolls_sideways(page)
    assert await serious_accessibility_problems(page) == []
    assert phone.problems == []


async def test_a_probation_officer_sees_their_caseload_only_and_cannot_edit(server, phone):
    page = phone.page
    await sign_in(page, server, "probation@example.org")
    await page.goto(f"{server}/core-members")
    await expect(page.get_by_role("heading", name="Your caseload", level=1)).to_be_visible()
    caseload = page.get_by_role("table", name="Core members")
    await expect(caseload.get_by_role("link", name="Daniel Mensah")).to_be_visible()
    await expect(caseload.get_by_role("link", name="Ewa Nowak")).to_have_count(0)  # Tom Price's
    await expect(caseload.get_by_role("link", name="Grace Adeyemi")).to_have_count(0)  # Tom Price's
    await expect(page.get_by_role("link", name="Record a referral")).to_have_count(0)
    assert not await scrolls_sideways(page)
    assert await serious_accessibility_problems(page) == []

    await caseload.get_by_role("link", name="Daniel Mensah").click()
    await expect(page.get_by_role("heading", name="Daniel Mensah", level=1)).to_be_visible()
    main = page.locator("main")
    await expect(main).to_contain_text("Car wash on Radford Road")  # need to know: their officer sees it
    await expect(main.get_by_role("button")).to_have_count(0)
    await expect(main.get_by_role("combobox")).to_have_count(0)
    for link in ("Edit the record", "Update the NRM record", "Open a circle"):
        await expect(main.get_by_role("link", name=link)).to_have_count(0)
    await expect(main.get_by_text("Add a risk connection")).to_have_count(0)
    await expect(main.get_by_role("link", name="Back to your caseload")).to_be_visible()
    assert not await scrolls_sideways(page)
    assert await serious_accessibility_problems(page) == []
    assert phone.problems == []


async def test_a_welsh_coordinator_gets_the_dashboard_in_welsh(server, browser):
    # The browser asks for English; Rhys chose Welsh, and his choice wins once he has signed in.
    context, watched = await new_page(browser, viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = watched.page
    await sign_in(page, server, "rhys@example.org")
    assert await page.get_attribute("html", "lang") == "cy"
    # A few key words only: the catalogue is still being completed, so some strings may be English.
    await expect(page.get_by_role("heading", name="Dangosfwrdd", level=1)).to_be_visible()
    await expect(page.get_by_role("heading", name="Dashboard")).to_have_count(0)
    nav = page.get_by_role("navigation", name="Prif ddewislen")
    await expect(nav.get_by_role("link", name="Hafan")).to_be_visible()
    await expect(page.get_by_role("button", name="Allgofnodi")).to_be_visible()
    await expect(page.get_by_role("link", name="Cylch Derwen")).to_be_visible()  # his region's circle
    await expect(page.get_by_role("link", name="Circle Rowan")).to_have_count(0)  # not his region
    assert await serious_accessibility_problems(page) == []
    assert watched.problems == []
    await context.close()


async def test_a_core_member_record_in_welsh_fits_a_phone(server, phone):
    page = phone.page
    await sign_in(page, server, "rhys@example.org")
    await page.get_by_role("link", name="Dafydd Evans").click()
    await expect(page.get_by_role("heading", name="Dafydd Evans", level=1)).to_be_visible()
    assert not await scrolls_sideways(page)
