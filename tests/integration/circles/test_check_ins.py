"""Check-ins from a phone: indicators by cohort, never lost, never doubled, read as a timeline."""

from __future__ import annotations

import uuid

from circles.indicators import ensure_built_in
from circles.tables import CheckIn
from cosa.clock import utcnow
from cosa.i18n import LONDON
from tests.integration.conftest import form_post, login


def now_local() -> str:
    return utcnow().astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


async def test_a_volunteer_logs_a_check_in_with_indicators_and_sees_it(client, programme):
    await ensure_built_in()
    await login(client, "alice@example.org")
    form = await client.get("/check-ins/new")  # one circle: no need to choose
    assert form.status_code == 200 and "Check-in for Circle Rowan" in form.text
    assert "tel:999" in form.text
    # Circle Rowan's core member is a survivor: exploitation and wellbeing indicators, not accountability ones.
    assert "cuckooing" in form.text.lower() and "Possible breach of order conditions" not in form.text
    key = form.text.split('name="idempotency_key" value="')[1].split('"')[0]
    data = {
        "circle": str(programme.circle_a.public_id),
        "idempotency_key": key,
        "happened_at": now_local(),
        "method": "phone",
        "wellbeing": "2",
        "indicators": ["contact_past_exploiters", "unexplained_money"],
        "notes": "Met an old 'friend'.",
    }
    codes = {c.split('value="')[1].split('"')[0] for c in form.text.split('name="indicators"')[1:]}
    data["indicators"] = sorted(codes)[:2]
    response = await form_post(client, "/check-ins", data)
    assert response.status_code == 303
    [row] = await CheckIn.select().output(load_json=True)
    assert row["method"] == "phone" and row["wellbeing"] == 2 and sorted(row["indicators"]) == sorted(codes)[:2]
    timeline = await client.get(response.headers["location"])
    assert "Check-in sent. Thank you." in timeline.text and "Met an old" in timeline.text


async def test_sending_the_same_form_twice_creates_one_check_in(client, programme):
    await ensure_built_in()
    await login(client, "alice@example.org")
    key = uuid.uuid4().hex
    data = {
        "circle": str(programme.circle_a.public_id),
        "idempotency_key": key,
        "happened_at": now_local(),
        "method": "in_person",
    }
    assert (await form_post(client, "/check-ins", data)).status_code == 303
    again = await form_post(client, "/check-ins", data, headers={"HX-Request": "true"})
    assert again.status_code == 200 and again.headers["hx-redirect"].endswith("/check-ins")
    assert await CheckIn.count() == 1


async def test_an_empty_check_in_is_explained_and_what_was_typed_is_kept(client, programme):
    await ensure_built_in()
    await login(client, "alice@example.org")
    data = {
        "circle": str(programme.circle_a.public_id),
        "idempotency_key": uuid.uuid4().hex,
        "happened_at": "",
        "method": "",
        "notes": "Kept text",
    }
    response = await form_post(client, "/check-ins", data, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "Enter when you were in touch." in response.text and "Choose how you were in touch." in response.text
    assert "Kept text" in response.text and "<html" not in response.text
    future = await form_post(client, "/check-ins", {**data, "happened_at": "2999-01-01T10:00", "method": "phone"})
    assert future.status_code == 400 and "cannot be in the future" in future.text
    assert await CheckIn.count() == 0


async def test_a_check_in_for_a_circle_they_are_not_in_is_refused(client, programme):
    await ensure_built_in()
    await login(client, "alice@example.org")
    data = {
        "circle": str(programme.circle_b.public_id),
        "idempotency_key": uuid.uuid4().hex,
        "happened_at": now_local(),
        "method": "phone",
    }
    response = await form_post(client, "/check-ins", data)
    assert response.status_code == 400 and "only log check-ins for circles you are in" in response.text
    assert await CheckIn.count() == 0


async def test_indicators_of_another_cohort_are_refused(client, programme):
    await ensure_built_in()
    await login(client, "alice@example.org")
    data = {
        "circle": str(programme.circle_a.public_id),
        "idempotency_key": uuid.uuid4().hex,
        "happened_at": now_local(),
        "method": "phone",
        "indicators": ["made-up-indicator"],
    }
    response = await form_post(client, "/check-ins", data)
    assert response.status_code == 400 and "Choose from the indicators shown." in response.text


async def test_coordinators_read_the_timeline_and_other_volunteers_cannot(client, make_client, programme):
    await CheckIn(
        circle=programme.circle_a.id,
        volunteer=programme.alice.id,
        idempotency_key="k1",
        happened_at=utcnow(),
        method="phone",
        notes="All fine",
        created_at=utcnow(),
    ).save()
    await login(client, "cara@example.org")
    page = await client.get(f"/circles/{programme.circle_a.public_id}/check-ins")
    assert "All fine" in page.text and "Alice Volunteer" in page.text
    charlie = await make_client()
    await login(charlie, "charlie@example.org")
    assert (await charlie.get(f"/circles/{programme.circle_a.public_id}/check-ins")).status_code == 404
    officer = await make_client()
    await login(officer, "priya@example.org")
    assert (await officer.get(f"/circles/{programme.circle_a.public_id}/check-ins")).status_code == 404


async def test_the_volunteer_home_shows_next_meetings_minutes_owed_and_the_big_button(client, programme):
    from datetime import timedelta

    from circles.tables import Meeting

    now = utcnow()
    await Meeting(
        circle=programme.circle_a.id,
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=1),
        venue="Library",
        created_at=now,
    ).save()
    await Meeting(
        circle=programme.circle_a.id,
        starts_at=now - timedelta(days=4),
        ends_at=now - timedelta(days=4) + timedelta(hours=1),
        minute_taker=programme.alice.id,
        created_at=now,
    ).save()
    await login(client, "alice@example.org")
    page = await client.get("/")
    assert "Log a check-in" in page.text and "Next meetings" in page.text and "Library" in page.text
    assert "Minutes you owe" in page.text and "Overdue" in page.text


async def test_the_volunteer_home_and_check_in_post_use_a_fixed_number_of_queries(client, programme, monkeypatch):
    from datetime import timedelta

    from circles.tables import Meeting
    from tests.integration.conftest import QueryCounter

    await ensure_built_in()
    await login(client, "alice@example.org")
    counter = QueryCounter(monkeypatch)

    async def post_one():
        data = {
            "circle": str(programme.circle_a.public_id),
            "idempotency_key": uuid.uuid4().hex,
            "happened_at": now_local(),
            "method": "phone",
            "notes": "ok",
        }
        return await form_post(client, "/check-ins", data)

    home_few = await counter.during(client.get("/"))
    post_few = await counter.during(post_one())
    now = utcnow()
    for i in range(30):
        await Meeting(
            circle=programme.circle_a.id,
            starts_at=now + timedelta(days=i + 1),
            ends_at=now + timedelta(days=i + 1, hours=1),
            created_at=now,
        ).save()
        await CheckIn(
            circle=programme.circle_a.id,
            volunteer=programme.alice.id,
            idempotency_key=f"bulk{i}",
            happened_at=now,
            method="phone",
            created_at=now,
        ).save()
    assert await counter.during(client.get("/")) == home_few
    assert await counter.during(post_one()) == post_few
