"""The coordinator's list of volunteers: counts by status, filters, search, DBS and supervision at a glance."""

from __future__ import annotations

import re
from datetime import timedelta

from cosa.clock import utcnow
from tests.integration.conftest import form_post, login
from tests.integration.volunteers.helpers import QueryCounter, add_volunteer, today
from volunteers.rules import add_years
from volunteers.tables import SupervisionSession


def rows(html: str) -> list[str]:
    """The volunteers' names in the table, in order."""
    return re.findall(r'<a href="/volunteers/[0-9a-f-]{36}">([^<]+)</a>', html)


async def test_an_empty_region_says_how_to_start(client, cast):
    await login(client, "cara@example.org")
    page = await client.get("/volunteers/")
    assert page.status_code == 200
    assert "There are no volunteers in your region yet" in page.text
    assert 'href="/volunteers/new"' in page.text


async def test_the_list_shows_counts_per_status_and_everyone_by_name(client, cast):
    await add_volunteer(cast.north, "Zoe Applicant")
    await add_volunteer(cast.north, "Amir Active", status="active", vetted=True)
    await add_volunteer(cast.north, "Beth Applicant")
    await add_volunteer(cast.north, "Lee Left", status="left")
    await login(client, "cara@example.org")
    page = await client.get("/volunteers/")
    assert rows(page.text) == ["Amir Active", "Beth Applicant", "Lee Left", "Zoe Applicant"]
    assert "All (4)" in page.text
    assert "Applicant (2)" in page.text and "In vetting (0)" in page.text and "Active (1)" in page.text
    assert "Left (1)" in page.text
    assert 'href="/volunteers?status=applicant"' in page.text
    assert 'tag tag-active">Active</span>' in page.text


async def test_the_status_filter_works_as_a_plain_link_and_form(client, cast):
    await add_volunteer(cast.north, "Zoe Applicant")
    await add_volunteer(cast.north, "Amir Active", status="active", vetted=True)
    await login(client, "cara@example.org")
    page = await client.get("/volunteers/?status=active")
    assert rows(page.text) == ["Amir Active"]
    assert '<option value="active" selected>' in page.text
    assert 'aria-current="page"><strong>Active (1)' in page.text
    resting = await client.get("/volunteers/?status=resting")
    assert rows(resting.text) == [] and "No volunteers have this status at the moment." in resting.text
    nonsense = await client.get("/volunteers/?status=<script>")
    assert nonsense.status_code == 200 and rows(nonsense.text) == ["Amir Active", "Zoe Applicant"]


async def test_search_finds_part_of_a_name_or_email_whatever_the_case(client, cast):
    await add_volunteer(cast.north, "Zoe Applicant", email="zoe@example.net")
    await add_volunteer(cast.north, "Amir Active", email="amir.k@example.net", status="active")
    await login(client, "cara@example.org")

    async def search(**values: str) -> list[str]:
        return rows((await form_post(client, "/volunteers/search", values)).text)

    assert await search(q="zOE") == ["Zoe Applicant"]
    assert await search(q="amir.k") == ["Amir Active"]
    assert await search(q="%") == ["Amir Active", "Zoe Applicant"]
    assert await search(q="zoe", status="active") == []
    none = await form_post(client, "/volunteers/search", {"q": "<b>nobody</b>"})
    assert "No volunteers match ‘&lt;b&gt;nobody&lt;/b&gt;’" in none.text
    assert "<b>nobody" not in none.text


async def test_htmx_gets_only_the_list(client, cast):
    await add_volunteer(cast.north, "Zoe Applicant")
    await login(client, "cara@example.org")
    fragment = await form_post(client, "/volunteers/search", {"q": "zoe"}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="volunteer-list">')
    assert "<html" not in fragment.text and rows(fragment.text) == ["Zoe Applicant"]
    assert fragment.headers["hx-push-url"] == "/volunteers"  # the status, shareable; never the name
    filtered = await form_post(
        client, "/volunteers/search", {"q": "zoe", "status": "applicant"}, headers={"HX-Request": "true"}
    )
    assert filtered.headers["hx-push-url"] == "/volunteers?status=applicant"
    page = await client.get("/volunteers/")
    assert 'hx-post="/volunteers/search"' in page.text and 'hx-target="#volunteer-list"' in page.text
    # A name searched for is never pushed into the address bar (SECURITY.md 15).
    assert "hx-push-url" not in page.text


async def test_dbs_expiry_is_flagged_when_expired_or_within_60_days(client, cast, settings):
    years = settings.dbs_renewal_years
    day = today()
    await add_volunteer(cast.north, "Ann Expired", status="active", dbs_certificate_on=add_years(day, -years))
    await add_volunteer(
        cast.north, "Ben Soon", status="active", dbs_certificate_on=add_years(day, -years) + timedelta(days=59)
    )
    await add_volunteer(
        cast.north, "Cat Fine", status="active", dbs_certificate_on=add_years(day, -years) + timedelta(days=61)
    )
    await add_volunteer(cast.north, "Dee New")
    await login(client, "cara@example.org")
    page = await client.get("/volunteers/")
    cells = dict(
        re.findall(r'>([A-Z][a-z]+ [A-Z][a-z]+)</a></td>.*?data-label="DBS expires">(.*?)</td>', page.text, re.S)
    )
    assert "Expired" in cells["Ann Expired"] and "Expires soon" not in cells["Ann Expired"]
    assert "Expires soon" in cells["Ben Soon"]
    assert "Expire" not in cells["Cat Fine"] and cells["Cat Fine"].strip()
    assert "No certificate yet" in cells["Dee New"]


async def test_the_last_supervision_date_is_shown(client, cast):
    amir = await add_volunteer(cast.north, "Amir Active", status="active")
    await add_volunteer(cast.north, "Zoe Active", status="active")
    for held in (date_ago(200), date_ago(10), date_ago(40)):
        await SupervisionSession(volunteer=amir.id, held_on=held, created_at=utcnow(), notes="").save()
    await login(client, "cara@example.org")
    page = await client.get("/volunteers/")
    assert f'datetime="{date_ago(10).isoformat()}"' in page.text
    assert f'datetime="{date_ago(40).isoformat()}"' not in page.text
    assert "None yet" in page.text


def date_ago(days: int):
    return today() - timedelta(days=days)


async def test_the_list_costs_the_same_queries_however_many_volunteers(client, cast, monkeypatch):
    first = await add_volunteer(cast.north, "Amir Active", status="active")
    await SupervisionSession(volunteer=first.id, held_on=date_ago(3), created_at=utcnow()).save()
    await login(client, "cara@example.org")
    counter = QueryCounter(monkeypatch)
    await client.get("/volunteers/")
    few = await counter.during(client.get("/volunteers/"))
    for i in range(25):
        v = await add_volunteer(cast.north, f"Person Number{i}", email=f"p{i}@example.net", status="active")
        await SupervisionSession(volunteer=v.id, held_on=date_ago(i), created_at=utcnow()).save()
    many = await counter.during(client.get("/volunteers/"))
    assert 0 < many == few
