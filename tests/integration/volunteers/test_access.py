"""Volunteer records are for their region's coordinators only; anyone else gets 404, and it is audited."""

from __future__ import annotations

import uuid

import pytest

from cosa.audit import Action
from cosa.tables import AuditEvent
from tests.integration.conftest import form_post, login
from tests.integration.volunteers.helpers import add_volunteer, reload

PAGES = ("", "/edit")
ACTIONS = {
    "/edit": {"display_name": "Changed"},
    "/vetting": {"interview_on": "2020-01-01"},
    "/status": {"to_status": "in_vetting"},
    "/supervision": {"held_on": "2020-01-01", "notes": "x"},
    "/account": {"locale": "en_GB"},
}


async def refusals(object_id: object = None) -> int:
    query = AuditEvent.count().where(AuditEvent.action == Action.ACCESS_REFUSED)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == str(object_id))
    return await query


async def test_a_coordinator_of_another_region_gets_404_for_every_page_and_it_is_audited(client, cast):
    vera = await add_volunteer(cast.north, status="trained", vetted=True)
    await login(client, "dan@example.org")
    for suffix in PAGES:
        response = await client.get(f"/volunteers/{vera.public_id}{suffix}")
        assert response.status_code == 404, suffix
        assert "Vera" not in response.text
    for suffix, data in ACTIONS.items():
        response = await form_post(client, f"/volunteers/{vera.public_id}{suffix}", data)
        assert response.status_code == 404, suffix
    assert await refusals(vera.public_id) == len(PAGES) + len(ACTIONS)
    row = await reload(vera)
    assert row["display_name"] == "Vera Volunteer" and row["status"] == "trained" and row["interview_on"] != "2020"
    assert row["user"] is None


async def test_a_coordinator_of_another_region_does_not_see_them_in_the_list(client, cast):
    vera = await add_volunteer(cast.north, "Vera Volunteer")
    await add_volunteer(cast.south, "Sam Southern")
    await login(client, "dan@example.org")
    page = await client.get("/volunteers/")
    assert page.status_code == 200
    assert "Sam Southern" in page.text and "Vera" not in page.text
    searched = await form_post(client, "/volunteers/search", {"q": "Vera"})
    assert str(vera.public_id) not in searched.text
    assert "No volunteers match" in searched.text


async def test_an_unknown_volunteer_is_404_and_audited(client, cast):
    await login(client, "cara@example.org")
    missing = uuid.uuid4()
    assert (await client.get(f"/volunteers/{missing}")).status_code == 404
    assert await refusals(missing) == 1


@pytest.mark.parametrize("email", ["alice@example.org", "priya@example.org", "ada@example.org"])
async def test_volunteers_probation_officers_and_admins_get_404_everywhere(client, cast, email):
    vera = await add_volunteer(cast.north)
    await login(client, email)
    for url in ("/volunteers/", "/volunteers/new", *(f"/volunteers/{vera.public_id}{s}" for s in PAGES)):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert "Vera" not in response.text
    for suffix, data in ACTIONS.items():
        assert (await form_post(client, f"/volunteers/{vera.public_id}{suffix}", data)).status_code == 404
    created = await form_post(client, "/volunteers/new", {"display_name": "Mallory", "email": "m@example.org"})
    assert created.status_code == 404
    assert await refusals() == 3 + len(PAGES) + len(ACTIONS)
    assert (await reload(vera))["status"] == "applicant"


async def test_anonymous_visitors_are_sent_to_sign_in(client, cast):
    vera = await add_volunteer(cast.north)
    for url in ("/volunteers/", "/volunteers/new", f"/volunteers/{vera.public_id}"):
        response = await client.get(url, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=%2Fvolunteers")
    response = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "in_vetting"})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (await reload(vera))["status"] == "applicant"


async def test_identifiers_in_pages_are_random(client, cast):
    vera = await add_volunteer(cast.north)
    await login(client, "cara@example.org")
    page = await client.get("/volunteers/")
    assert f"/volunteers/{vera.public_id}" in page.text
    assert f'/volunteers/{vera.id}"' not in page.text
    assert (await client.get(f"/volunteers/{vera.id}")).status_code == 404
