"""A new application, and editing a volunteer's profile: checked field by field, nothing typed is lost."""

from __future__ import annotations

from datetime import timedelta

from cosa.tables import AuditEvent
from tests.integration.conftest import csrf_token, login
from tests.integration.volunteers.helpers import add_volunteer, reload, today
from volunteers.tables import Volunteer, VolunteerStatusChange

APPLICATION = {
    "display_name": "Nadia  Rahman",
    "email": "Nadia@Example.net",
    "phone": "07700 900982",
    "gender": "woman",
    "home_district": "ng7 1aa",
    "max_circles": "3",
    "declared_connections": "Grew up in Sneinton.\nVolunteers at a community kitchen.",
    "declared_districts": "ng2, NG3;ng2",
}


async def post_form(
    client, url, fields: dict[str, str], languages=("en", "bn"), availability=("mon-evening", "sat-morning")
):
    """A browser's POST: repeated fields for the checkbox groups, and the CSRF token."""
    if not csrf_token(client):
        await client.get("/login")
    pairs = [*fields.items(), *(("languages", v) for v in languages), *(("availability", v) for v in availability)]
    pairs.append(("_csrf_token", csrf_token(client)))
    return await client.post(
        url,
        content="&".join(f"{k}={quote(v)}" for k, v in pairs),
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def quote(value: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(value)


async def test_the_form_starts_with_today_and_two_circles(client, cast):
    await login(client, "cara@example.org")
    page = await client.get("/volunteers/new")
    assert page.status_code == 200
    assert f'id="applied_on" name="applied_on" type="date" value="{today().isoformat()}"' in page.text
    assert 'name="max_circles" type="text" value="2"' in page.text
    assert '<legend class="legend">Languages they speak</legend>' in page.text
    assert '<legend class="label">Monday</legend>' in page.text and 'value="sun-evening"' in page.text
    assert '<label for="gender">Woman</label>' in page.text


async def test_an_application_creates_an_applicant_with_a_timeline_and_an_audit_row(client, cast):
    await login(client, "cara@example.org")
    response = await post_form(client, "/volunteers/new", {**APPLICATION, "applied_on": today().isoformat()})
    assert response.status_code == 303, response.text
    row = await Volunteer.select().where(Volunteer.email == "nadia@example.net").output(load_json=True).first()
    assert row is not None
    assert response.headers["location"] == f"/volunteers/{row['public_id']}"
    assert row["display_name"] == "Nadia Rahman" and row["status"] == "applicant"
    assert row["region"] == cast.north.id and row["user"] is None
    assert row["home_district"] == "NG7" and row["declared_districts"] == ["NG2", "NG3"]
    assert row["languages"] == ["en", "bn"] and row["availability"] == ["mon-evening", "sat-morning"]
    assert row["max_circles"] == 3 and row["applied_on"] == today()
    assert row["declared_connections"].startswith("Grew up in Sneinton.\n")
    [change] = await VolunteerStatusChange.select().where(VolunteerStatusChange.volunteer == row["id"])
    assert change["from_status"] == "" and change["to_status"] == "applicant"
    assert change["changed_by"] == cast.coordinator.id
    assert await AuditEvent.exists().where(
        AuditEvent.action == "volunteer.created", AuditEvent.object_id == str(row["public_id"])
    )
    page = await client.get(response.headers["location"])
    assert "Application added. Their status is ‘Applicant’." in page.text
    assert "Bangla" in page.text and "Monday evening" in page.text and "Grew up in Sneinton.<br>" in page.text


async def test_mistakes_are_explained_beside_each_field_and_everything_typed_is_kept(client, cast):
    await login(client, "cara@example.org")
    tomorrow = (today() + timedelta(days=1)).isoformat()
    response = await post_form(
        client,
        "/volunteers/new",
        {
            **APPLICATION,
            "display_name": "",
            "email": "not-an-email",
            "phone": "call me",
            "applied_on": tomorrow,
            "gender": "",
            "home_district": "Nottingham",
            "max_circles": "9",
            "declared_districts": "NG2, nowhere, 12",
        },
        languages=(),
        availability=("mon-evening", "someday"),
    )
    assert response.status_code == 400
    text = response.text
    assert "There is a problem" in text
    for message in (
        "Enter their name.",
        "Enter an email address in the right format",
        "Enter a phone number using digits",
        "The date must be today or in the past.",
        "Choose their gender",
        "Choose at least one language they speak.",
        "Enter the first part of a UK postcode, like NG7 or CF10.",
        "Enter a number from 1 to 6.",
        "These are not postcode districts: nowhere, 12.",
        "Choose from the options shown.",
    ):
        assert message in text, message
    assert 'href="#home_district"' in text and 'id="home_district-error"' in text
    assert 'value="not-an-email"' in text and 'value="Nottingham"' in text and f'value="{tomorrow}"' in text
    assert 'value="NG2, nowhere, 12"' in text and 'value="9"' in text
    assert "Grew up in Sneinton." in text
    assert 'value="mon-evening" checked' in text
    assert await Volunteer.count() == 0


async def test_an_email_already_used_in_the_region_is_refused(client, cast):
    await add_volunteer(cast.north, "Nadia Older", email="nadia@example.net")
    await login(client, "cara@example.org")
    response = await post_form(client, "/volunteers/new", {**APPLICATION, "applied_on": today().isoformat()})
    assert response.status_code == 400
    assert "A volunteer in your region already has this email address." in response.text
    assert await Volunteer.count() == 1


async def test_script_in_text_is_stored_and_shown_inert(client, cast):
    await login(client, "cara@example.org")
    payload = '"><img src=x onerror=alert(1)><script>alert(1)</script>{{7*7}}'
    response = await post_form(
        client,
        "/volunteers/new",
        {**APPLICATION, "display_name": payload, "declared_connections": payload, "applied_on": today().isoformat()},
    )
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;{{7*7}}" in page.text


async def test_the_edit_form_is_filled_in_and_saves_changes(client, cast):
    vera = await add_volunteer(cast.north, "Vera Volunteer", languages=["en", "pl"], declared_districts=["NG1", "NG2"])
    await login(client, "cara@example.org")
    page = await client.get(f"/volunteers/{vera.public_id}/edit")
    assert page.status_code == 200
    assert 'value="Vera Volunteer"' in page.text and 'value="NG1, NG2"' in page.text
    assert 'value="pl" checked' in page.text and 'value="mon-evening" checked' in page.text
    response = await post_form(
        client,
        f"/volunteers/{vera.public_id}/edit",
        {
            **APPLICATION,
            "display_name": "Vera Nowak",
            "email": "vera@example.net",
            "applied_on": (today() - timedelta(days=90)).isoformat(),
            "declared_districts": "",
        },
        languages=("pl",),
        availability=(),
    )
    assert response.status_code == 303
    row = await reload(vera)
    assert row["display_name"] == "Vera Nowak" and row["languages"] == ["pl"] and row["availability"] == []
    assert row["declared_districts"] == [] and row["status"] == "applicant"
    event = await AuditEvent.select().where(AuditEvent.action == "volunteer.updated").first()
    assert event is not None and "Vera" not in str(event["detail"])
    assert "display_name" in str(event["detail"])


async def test_an_edit_with_mistakes_keeps_what_was_typed(client, cast):
    vera = await add_volunteer(cast.north, "Vera Volunteer")
    await login(client, "cara@example.org")
    response = await post_form(
        client,
        f"/volunteers/{vera.public_id}/edit",
        {**APPLICATION, "display_name": "Vera Nowak", "applied_on": "2026-02-30", "home_district": ""},
    )
    assert response.status_code == 400
    assert "Enter a real date" in response.text and "Enter the first part of their postcode" in response.text
    assert 'value="Vera Nowak"' in response.text
    assert (await reload(vera))["display_name"] == "Vera Volunteer"
