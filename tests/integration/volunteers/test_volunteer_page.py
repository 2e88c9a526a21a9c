"""One volunteer's page: profile, pipeline status and its history, vetting and training, supervision."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from litestar.testing import AsyncTestClient

from cosa.app import create_app
from cosa.clock import utcnow
from cosa.i18n import format_date
from cosa.tables import AuditEvent
from tests.integration.conftest import form_post, login
from tests.integration.volunteers.helpers import QueryCounter, add_volunteer, complete_vetting, reload, today
from volunteers.rules import add_years
from volunteers.tables import SupervisionSession, VolunteerStatusChange


def still_needed(html: str) -> str:
    """The text of the 'What is still needed' part of the page."""
    match = re.search(r'id="still-needed">.*?</h3>(.*?)<details', html, re.S)
    assert match, html
    return match.group(1)


async def test_the_page_shows_profile_status_history_and_what_is_missing(client, cast):
    vera = await add_volunteer(cast.north, "Vera Volunteer", phone="07700 900982", interview_on=today())
    await login(client, "cara@example.org")
    page = await client.get(f"/volunteers/{vera.public_id}")
    assert page.status_code == 200
    text = page.text
    assert "<h1>Vera Volunteer</h1>" in text and "07700 900982" in text and "Monday evening" in text
    assert "Application added" in text
    needed = still_needed(text)
    assert "Hold their interview" not in needed
    assert "Receive both references" in needed and "enhanced DBS certificate" in needed
    assert "CoSA core training" in needed and "trauma-informed practice" in needed
    assert f"{format_date(today())}" in text
    assert await AuditEvent.exists().where(
        AuditEvent.action == "volunteer.viewed", AuditEvent.object_id == str(vera.public_id)
    )


async def test_dbs_expiry_follows_the_renewal_period(app, settings, cast):
    certificate = today() - timedelta(days=400)
    vera = await add_volunteer(cast.north, dbs_certificate_on=certificate)
    for years in (settings.dbs_renewal_years, 1):
        custom = create_app(dataclasses.replace(settings, dbs_renewal_years=years))
        async with AsyncTestClient(app=custom) as client:
            await login(client, "cara@example.org")
            page = await client.get(f"/volunteers/{vera.public_id}")
        expires = add_years(certificate, years)
        assert f'datetime="{expires.isoformat()}"' in page.text
        if years == 1:
            assert "Expired" in page.text and "Their DBS certificate has expired" in still_needed(page.text)
        else:
            assert "In date" in page.text and "DBS" not in still_needed(page.text)


async def test_vetting_dates_are_saved_and_the_checklist_updates(client, cast):
    vera = await add_volunteer(cast.north)
    await login(client, "cara@example.org")
    day = (today() - timedelta(days=3)).isoformat()
    data = dict.fromkeys(complete_vetting(), day)
    response = await form_post(client, f"/volunteers/{vera.public_id}/vetting", data)
    assert response.status_code == 303
    assert response.headers["location"] == f"/volunteers/{vera.public_id}#vetting"
    row = await reload(vera)
    assert row["interview_on"] == today() - timedelta(days=3) and row["training_trauma_on"] is not None
    page = await client.get(f"/volunteers/{vera.public_id}")
    assert "Vetting and training dates saved." in page.text
    assert "Nothing: their vetting and training are complete" in still_needed(page.text)
    assert await AuditEvent.exists().where(AuditEvent.action == "volunteer.vetting_recorded")


async def test_vetting_dates_cannot_be_in_the_future_and_the_form_keeps_them(client, cast):
    vera = await add_volunteer(cast.north)
    await login(client, "cara@example.org")
    tomorrow = (today() + timedelta(days=1)).isoformat()
    response = await form_post(
        client, f"/volunteers/{vera.public_id}/vetting", {"interview_on": tomorrow, "training_core_on": "yesterday"}
    )
    assert response.status_code == 400
    assert "The date must be today or in the past." in response.text and "Enter a real date" in response.text
    assert f'value="{tomorrow}"' in response.text and 'value="yesterday"' in response.text
    assert "<details open>" in response.text
    assert (await reload(vera))["interview_on"] is None


async def test_htmx_updates_the_checklist_in_place(client, cast):
    vera = await add_volunteer(cast.north)
    await login(client, "cara@example.org")
    day = today().isoformat()
    response = await form_post(
        client, f"/volunteers/{vera.public_id}/vetting", {"interview_on": day}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="vetting"')
    assert "<html" not in response.text and "Vetting and training dates saved." in response.text
    assert "Hold their interview" not in still_needed(response.text)
    bad = await form_post(
        client,
        f"/volunteers/{vera.public_id}/vetting",
        {"interview_on": "not a date"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 400 and bad.text.lstrip().startswith('<section id="vetting"')
    assert "There is a problem" in bad.text and 'value="not a date"' in bad.text
    assert (await reload(vera))["interview_on"] == today()


async def test_the_pipeline_moves_one_allowed_step_at_a_time_with_a_timeline(client, cast):
    vera = await add_volunteer(cast.north)
    await login(client, "cara@example.org")
    response = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "in_vetting"})
    assert response.status_code == 303
    row = await reload(vera)
    assert row["status"] == "in_vetting"
    change = await VolunteerStatusChange.select().where(VolunteerStatusChange.to_status == "in_vetting").first()
    assert change is not None and change["from_status"] == "applicant" and change["changed_by"] == cast.coordinator.id
    event = await AuditEvent.select().where(AuditEvent.action == "volunteer.status_changed").first()
    assert event is not None and "in_vetting" in str(event["detail"])
    page = await client.get(f"/volunteers/{vera.public_id}")
    assert "Status changed to ‘In vetting’." in page.text
    assert "From ‘Applicant’ to ‘In vetting’" in page.text and "By Cara Coordinator" in page.text


async def test_an_illegal_transition_is_refused_with_a_clear_message(client, cast):
    vera = await add_volunteer(cast.north, vetted=True)
    await login(client, "cara@example.org")
    response = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "active"})
    assert response.status_code == 400
    assert "Someone who is ‘Applicant’ cannot become ‘Active’ next. They can become: ‘In vetting’, ‘Left’." in (
        response.text
    )
    for nonsense in ("", "retired", "<script>"):
        response = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": nonsense})
        assert response.status_code == 400 and "Choose their new status." in response.text
    assert (await reload(vera))["status"] == "applicant"
    assert await VolunteerStatusChange.count() == 1


async def test_becoming_active_is_refused_until_vetting_and_training_are_complete(client, cast):
    vera = await add_volunteer(cast.north, status="trained", interview_on=today())
    await login(client, "cara@example.org")
    refused = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "active"})
    assert refused.status_code == 400
    assert "They cannot become active yet. Still needed:" in refused.text
    assert "Receive both references" in refused.text and "CoSA core training" in refused.text
    assert (await reload(vera))["status"] == "trained"

    await form_post(
        client, f"/volunteers/{vera.public_id}/vetting", {k: v.isoformat() for k, v in complete_vetting().items()}
    )
    allowed = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "active"})
    assert allowed.status_code == 303
    assert (await reload(vera))["status"] == "active"


async def test_an_expired_dbs_stops_someone_becoming_active_again(client, cast, settings):
    old = add_years(today(), -settings.dbs_renewal_years) - timedelta(days=1)
    vera = await add_volunteer(cast.north, status="resting", vetted=True, dbs_certificate_on=old)
    await login(client, "cara@example.org")
    refused = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "active"})
    assert refused.status_code == 400 and "they need a new enhanced DBS check" in refused.text
    assert (await reload(vera))["status"] == "resting"


async def test_leaving_needs_a_reason_and_is_final(client, cast):
    vera = await add_volunteer(cast.north, status="in_vetting")
    await login(client, "cara@example.org")
    missing = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "left"})
    assert missing.status_code == 400 and "Choose why they are leaving." in missing.text
    assert 'value="left" checked' in missing.text
    left = await form_post(
        client, f"/volunteers/{vera.public_id}/status", {"to_status": "left", "left_reason": "moved_away"}
    )
    assert left.status_code == 303
    row = await reload(vera)
    assert row["status"] == "left" and row["left_reason"] == "moved_away"
    page = await client.get(f"/volunteers/{vera.public_id}")
    assert "Reason: Moved away." in page.text and "(Moved away)" in page.text
    assert 'name="to_status"' not in page.text
    again = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "applicant"})
    assert again.status_code == 400 and "Someone who has left cannot change status." in again.text


async def test_a_status_changed_meanwhile_is_not_overwritten(client, cast):
    vera = await add_volunteer(cast.north, status="active", vetted=True)
    await login(client, "cara@example.org")
    page = await client.get(f"/volunteers/{vera.public_id}")
    assert 'value="resting"' in page.text
    await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "resting"})
    # The same form, sent again from the page as it was (a second tab, or a double click).
    twice = await form_post(client, f"/volunteers/{vera.public_id}/status", {"to_status": "resting"})
    assert twice.status_code == 400 and "cannot become ‘Resting’ next" in twice.text
    assert await VolunteerStatusChange.count().where(VolunteerStatusChange.to_status == "resting") == 1


async def test_supervision_sessions_are_recorded_and_listed_newest_first(client, cast):
    vera = await add_volunteer(cast.north, status="active", vetted=True)
    await login(client, "cara@example.org")
    older = (today() - timedelta(days=30)).isoformat()
    newer = (today() - timedelta(days=2)).isoformat()
    for day, notes in ((older, "Settling in well."), (newer, "Finding evenings hard; agreed a rest in May.")):
        response = await form_post(
            client, f"/volunteers/{vera.public_id}/supervision", {"held_on": day, "notes": notes}
        )
        assert response.status_code == 303
    rows = await SupervisionSession.select().where(SupervisionSession.volunteer == vera.id)
    assert len(rows) == 2 and all(r["coordinator"] == cast.coordinator.id for r in rows)
    page = await client.get(f"/volunteers/{vera.public_id}")
    assert "Supervision session recorded." in page.text
    assert page.text.index("Finding evenings hard") < page.text.index("Settling in well.")
    assert "With Cara Coordinator" in page.text
    event = await AuditEvent.select().where(AuditEvent.action == "volunteer.supervision_recorded").first()
    assert event is not None and "Settling" not in str(event["detail"])


async def test_a_supervision_date_is_needed_and_cannot_be_in_the_future(client, cast):
    vera = await add_volunteer(cast.north, status="active")
    await login(client, "cara@example.org")
    empty = await form_post(client, f"/volunteers/{vera.public_id}/supervision", {"held_on": "", "notes": "Kept"})
    assert (
        empty.status_code == 400 and "Enter the date of the session." in empty.text and ">Kept</textarea>" in empty.text
    )
    tomorrow = (today() + timedelta(days=1)).isoformat()
    future = await form_post(client, f"/volunteers/{vera.public_id}/supervision", {"held_on": tomorrow})
    assert future.status_code == 400 and "The date must be today or in the past." in future.text
    assert await SupervisionSession.count() == 0


async def test_the_page_costs_the_same_queries_however_long_the_history(client, cast, monkeypatch):
    vera = await add_volunteer(cast.north, status="active", vetted=True)
    await login(client, "cara@example.org")
    counter = QueryCounter(monkeypatch)
    url = f"/volunteers/{vera.public_id}"
    await client.get(url)  # the first request also sets up the session's housekeeping
    few = await counter.during(client.get(url))
    for i in range(30):
        await SupervisionSession(volunteer=vera.id, held_on=today() - timedelta(days=i), created_at=utcnow()).save()
        await VolunteerStatusChange(volunteer=vera.id, to_status="active", changed_at=utcnow()).save()
    page = await client.get(url)
    many = await counter.during(client.get(url))
    assert 0 < many == few
    assert page.text.count("With a coordinator whose account has been removed") == 30
