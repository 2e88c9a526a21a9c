"""The coordinator's dashboard: their region's circles with state, volunteers and needs; alerts; filters."""

from __future__ import annotations

from datetime import timedelta

from circles.tables import NeedChange
from cosa.clock import utcnow
from tests.integration.circles.conftest import TODAY, make_circle, make_core_member, make_volunteer
from tests.integration.conftest import login


async def test_the_dashboard_lists_the_regions_open_circles_with_their_figures(client, programme):
    now = utcnow()
    for area, status in (("accommodation", "unmet"), ("isolation", "met"), ("family", "partly_met")):
        await NeedChange(
            core_member=programme.core_a.id, area=area, status=status, changed_on=TODAY, changed_at=now
        ).save()
    await NeedChange(
        core_member=programme.core_a.id,
        area="isolation",
        status="unmet",
        changed_on=TODAY - timedelta(days=40),
        changed_at=now,
    ).save()
    await make_circle(
        await make_core_member(programme.south, full_name="South Person"),
        programme.coordinator_south,
        code_name="Circle South",
    )
    await login(client, "cara@example.org")
    page = await client.get("/")
    assert page.status_code == 200
    assert "Circle Rowan" in page.text and "Circle Hazel" in page.text and "Circle South" not in page.text
    assert "2 in the circle" in page.text
    assert "1 unmet, 1 partly met, 1 met" in page.text  # the latest status of each need counts


async def test_alerts_show_dbs_and_supervision_problems(client, programme):
    await make_volunteer(programme.north, "Old Check", dbs_certificate_on=TODAY - timedelta(days=3 * 365 + 10))
    await make_volunteer(programme.north, "Soon Due", dbs_certificate_on=TODAY - timedelta(days=3 * 365 - 20))
    await login(client, "cara@example.org")
    page = await client.get("/")
    assert "DBS check expired" in page.text and "Old Check" in page.text
    assert "DBS check expiring within 60 days" in page.text and "Soon Due" in page.text
    assert "No supervision in the last 3 months" in page.text


async def test_filters_work_in_place_and_as_a_plain_form(client, programme):
    await login(client, "cara@example.org")
    fragment = await client.get("/?state=paused", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "No circles match these filters." in fragment.text
    page = await client.get("/?state=forming&mine=1")
    assert "Circle Rowan" in page.text
    odd = await client.get("/?state=<script>")
    assert odd.status_code == 200 and "<script>" not in odd.text.split("<main")[1]


async def test_the_dashboard_uses_a_fixed_number_of_queries(client, programme, monkeypatch):
    from tests.integration.conftest import QueryCounter

    await login(client, "cara@example.org")
    counter = QueryCounter(monkeypatch)
    few = await counter.during(client.get("/"))
    for i in range(10):
        core = await make_core_member(programme.north, full_name=f"Person {i}")
        await make_circle(core, programme.coordinator, code_name=f"Circle {i}")
    many = await counter.during(client.get("/"))
    assert many == few


async def test_a_volunteers_home_lists_their_circles_and_invitations(client, programme):
    await login(client, "alice@example.org")
    page = await client.get("/")
    assert "Your circles" in page.text and "Circle Rowan" in page.text and "Circle Hazel" not in page.text


async def test_the_dashboard_flags_quiet_circles_overdue_minutes_and_next_meetings(client, programme):
    from datetime import timedelta

    from circles.tables import CheckIn, Circle, Meeting
    from cosa.clock import utcnow

    now = utcnow()
    await Circle.update({Circle.state: "active"}).where(Circle.id == programme.circle_a.id)
    await CheckIn(
        circle=programme.circle_a.id,
        idempotency_key="d1",
        happened_at=now - timedelta(days=12),
        method="phone",
        created_at=now,
    ).save()
    await Meeting(
        circle=programme.circle_a.id,
        starts_at=now - timedelta(days=5),
        ends_at=now - timedelta(days=5) + timedelta(hours=1),
        minute_taker=programme.alice.id,
        created_at=now,
    ).save()
    await Meeting(
        circle=programme.circle_a.id,
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=1),
        created_at=now,
    ).save()
    await login(client, "cara@example.org")
    page = await client.get("/")
    row = page.text.split("Circle Rowan")[1].split("</tr>")[0]
    assert "12 days ago" in row and "Quiet" in row and "1 minutes overdue" in row and "None scheduled" not in row


async def test_the_dashboard_shows_concerns_waiting_escalations_and_undelivered_mail(client, programme, settings):
    from datetime import timedelta

    from circles import concerns
    from cosa import outbox
    from cosa.clock import utcnow
    from cosa.db import write_transaction
    from cosa.web import make_environment

    now = utcnow()
    circle = {"id": programme.circle_a.id, "code_name": "Circle Rowan"}
    await concerns.raise_concern(
        settings,
        make_environment(),
        by=programme.volunteer_a1,
        circle=circle,
        severity="urgent",
        description="x",
        indicators=[],
        seen_at=now,
        now=now - timedelta(minutes=12),
    )
    async with write_transaction():
        await outbox.enqueue(
            settings, recipient="x@example.org", subject="s", body_text="b", kind="t", now=now - timedelta(minutes=6)
        )
    await login(client, "cara@example.org")
    page = await client.get("/")
    assert "Waiting for probation to acknowledge" in page.text and "sent 12 minutes ago" in page.text
    assert "have not been delivered for more than 5 minutes" in page.text
