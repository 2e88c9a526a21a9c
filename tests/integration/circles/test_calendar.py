"""The private calendar feed: made and stopped from the account page, read by calendar apps with its token."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from icalendar import Calendar

from circles.calendar import CalendarAction
from circles.tables import CalendarFeed, Meeting
from cosa.clock import utcnow
from cosa.i18n import LONDON
from cosa.tables import AuditEvent, User
from tests.integration.circles.conftest import make_circle, make_core_member, seat
from tests.integration.conftest import QueryCounter, form_post, login

FEED_URL = re.compile(r'value="(https?://[^"]+/calendar/([^"/]+)\.ics)"')
NEXT_YEAR = utcnow().year + 1


async def add_meeting(circle: Any, starts_at: datetime, **fields: Any) -> Meeting:
    values: dict[str, Any] = {
        "circle": circle.id,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(minutes=90),
        "venue": "Community Centre, Room 2",
        "created_at": utcnow(),
    }
    values.update(fields)
    meeting = Meeting(**values)
    await meeting.save()
    return meeting


def london(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LONDON).astimezone(UTC)


async def create_link(client: Any) -> tuple[str, str]:
    """Press "Create a calendar link" on the account page; returns (the feed's path, its token)."""
    response = await form_post(client, "/account/calendar")
    assert response.status_code == 200, response.text
    match = FEED_URL.search(response.text)
    assert match, response.text
    return urlsplit(match.group(1)).path, match.group(2)


async def feed_of(make_client: Any, path: str) -> Any:
    """Fetch the feed the way a calendar app does: no session, no cookies."""
    app_client = await make_client()
    return await app_client.get(path)


def parse(response: Any) -> Calendar:
    assert response.status_code == 200, response.text
    return Calendar.from_ical(response.content)


# --- the account page --------------------------------------------------------------------------------


async def test_creating_a_link_shows_it_once_and_keeps_only_a_hash(client, programme):
    await login(client, "alice@example.org")
    page = await client.get("/account")
    assert "Create a calendar link" in page.text
    assert "Stop this calendar link" not in page.text

    path, token = await create_link(client)
    assert path == f"/calendar/{token}.ics"
    assert len(token) >= 40

    rows = await CalendarFeed.select().where(CalendarFeed.user == programme.volunteer_a1.id)
    assert len(rows) == 1
    assert rows[0]["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(rows[0])
    assert await AuditEvent.exists().where(
        AuditEvent.action == CalendarAction.FEED_CREATED, AuditEvent.actor == programme.volunteer_a1.id
    )

    again = await client.get("/account")
    assert token not in again.text
    assert "Stop this calendar link" in again.text
    assert "Create a calendar link" not in again.text


async def test_the_create_and_stop_routes_reject_get(client, cast):
    await login(client, "alice@example.org")
    assert (await client.get("/account/calendar")).status_code == 405
    assert (await client.get("/account/calendar/revoke")).status_code == 405
    assert await CalendarFeed.count() == 0


async def test_an_anonymous_visitor_is_sent_to_sign_in(client, cast):
    response = await form_post(client, "/account/calendar")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    assert await CalendarFeed.count() == 0


# --- the feed ----------------------------------------------------------------------------------------


async def test_the_feed_holds_the_volunteers_meetings_and_nothing_personal(client, make_client, programme):
    ours = await add_meeting(
        programme.circle_a,
        london(NEXT_YEAR, 3, 2, 18, 30),
        minutes="MINUTES-CANARY",
        cancelled_reason="",
    )
    await add_meeting(programme.circle_b, london(NEXT_YEAR, 3, 3, 18, 30), venue="Elsewhere Hall")
    await login(client, "alice@example.org")
    path, _token = await create_link(client)

    response = await feed_of(make_client, path)
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    calendar = parse(response)
    assert str(calendar["PRODID"]) == "-//CoSA Circles//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["X-WR-CALNAME"]) == "CoSA Circles"
    assert "X-PUBLISHED-TTL:PT1H" in response.text
    [event] = calendar.events
    assert str(event["UID"]) == f"{ours.public_id}@cosa-circles"
    assert str(event["SUMMARY"]) == "Circle Rowan meeting"
    assert str(event["LOCATION"]) == "Community Centre, Room 2"
    assert "DTSTAMP" in event
    assert str(event.get("STATUS")) != "CANCELLED"
    for private in ("Daniel", "Mensah", "Circle Hazel", "Elsewhere Hall", "MINUTES-CANARY", "Alice", "Ewa Nowak"):
        assert private not in response.text, private


async def test_times_are_in_utc_across_the_clock_change(client, make_client, programme):
    await add_meeting(programme.circle_a, london(NEXT_YEAR, 7, 15, 18, 30))
    await add_meeting(programme.circle_a, london(NEXT_YEAR, 1, 14, 18, 30))
    await login(client, "alice@example.org")
    path, _token = await create_link(client)

    response = await feed_of(make_client, path)
    assert f"DTSTART:{NEXT_YEAR}0715T173000Z" in response.text
    assert f"DTEND:{NEXT_YEAR}0715T190000Z" in response.text
    assert f"DTSTART:{NEXT_YEAR}0114T183000Z" in response.text
    starts = sorted(event.start for event in parse(response).events)
    assert starts == [
        datetime(NEXT_YEAR, 1, 14, 18, 30, tzinfo=UTC),
        datetime(NEXT_YEAR, 7, 15, 17, 30, tzinfo=UTC),
    ]


async def test_a_cancelled_meeting_is_marked_cancelled(client, make_client, programme):
    cancelled = await add_meeting(
        programme.circle_a,
        london(NEXT_YEAR, 2, 1, 18, 30),
        cancelled_at=utcnow(),
        cancelled_reason="REASON-CANARY",
    )
    await add_meeting(programme.circle_a, london(NEXT_YEAR, 2, 8, 18, 30))
    await login(client, "alice@example.org")
    path, _token = await create_link(client)

    response = await feed_of(make_client, path)
    status = {str(e["UID"]): str(e.get("STATUS")) for e in parse(response).events}
    assert status.pop(f"{cancelled.public_id}@cosa-circles") == "CANCELLED"
    assert list(status.values()) == ["CONFIRMED"]
    assert "REASON-CANARY" not in response.text


async def test_the_feed_reaches_back_sixty_days(client, make_client, programme):
    now = utcnow()
    recent = await add_meeting(programme.circle_a, now - timedelta(days=59))
    await add_meeting(programme.circle_a, now - timedelta(days=61))
    await login(client, "alice@example.org")
    path, _token = await create_link(client)

    uids = [str(e["UID"]) for e in parse(await feed_of(make_client, path)).events]
    assert uids == [f"{recent.public_id}@cosa-circles"]


async def test_only_accepted_circles_appear(client, make_client, programme):
    other_core = await make_core_member(programme.north, full_name="Femi Adeyemi")
    invited_circle = await make_circle(other_core, programme.coordinator, code_name="Circle Aspen")
    await seat(invited_circle, programme.alice, status="invited")
    await add_meeting(invited_circle, london(NEXT_YEAR, 4, 1, 18, 30))
    await add_meeting(programme.circle_a, london(NEXT_YEAR, 4, 2, 18, 30))
    await login(client, "alice@example.org")
    path, _token = await create_link(client)

    summaries = [str(e["SUMMARY"]) for e in parse(await feed_of(make_client, path)).events]
    assert summaries == ["Circle Rowan meeting"]


async def test_a_coordinator_sees_the_circles_they_coordinate(client, make_client, programme):
    south_core = await make_core_member(programme.south, full_name="Grace Obi")
    south_circle = await make_circle(south_core, programme.coordinator_south, code_name="Circle Birch")
    await add_meeting(programme.circle_a, london(NEXT_YEAR, 5, 4, 18, 30))
    await add_meeting(programme.circle_b, london(NEXT_YEAR, 5, 5, 18, 30))
    await add_meeting(south_circle, london(NEXT_YEAR, 5, 6, 18, 30))
    await login(client, "cara@example.org")
    path, _token = await create_link(client)

    summaries = [str(e["SUMMARY"]) for e in parse(await feed_of(make_client, path)).events]
    assert summaries == ["Circle Rowan meeting", "Circle Hazel meeting"]


async def test_other_roles_get_an_empty_calendar(client, make_client, programme):
    await add_meeting(programme.circle_a, london(NEXT_YEAR, 6, 1, 18, 30))
    await login(client, "priya@example.org")
    path, _token = await create_link(client)

    calendar = parse(await feed_of(make_client, path))
    assert str(calendar["PRODID"]) == "-//CoSA Circles//EN"
    assert calendar.events == []


async def test_the_feed_takes_the_same_number_of_queries_for_many_meetings(client, make_client, programme, monkeypatch):
    await add_meeting(programme.circle_a, london(NEXT_YEAR, 8, 1, 18, 30))
    await login(client, "alice@example.org")
    path, _token = await create_link(client)
    reader = await make_client()
    counter = QueryCounter(monkeypatch)
    few = await counter.during(reader.get(path))
    for week in range(1, 25):
        await add_meeting(programme.circle_a, london(NEXT_YEAR, 8, 1, 18, 30) + timedelta(weeks=week))
    many = await counter.during(reader.get(path))
    assert len(parse(await reader.get(path)).events) == 25
    assert many == few


# --- stopping a link ---------------------------------------------------------------------------------


async def test_stopping_the_link_makes_it_404(client, make_client, programme):
    await login(client, "alice@example.org")
    path, _token = await create_link(client)
    assert (await feed_of(make_client, path)).status_code == 200

    response = await form_post(client, "/account/calendar/revoke")
    assert response.status_code == 303
    assert response.headers["location"] == "/account"
    page = await client.get("/account")
    assert "Your calendar link has stopped working" in page.text
    assert "Create a calendar link" in page.text
    assert (await feed_of(make_client, path)).status_code == 404
    row = await CalendarFeed.select().where(CalendarFeed.user == programme.volunteer_a1.id).first()
    assert row is not None and row["revoked_at"] is not None
    assert await AuditEvent.exists().where(AuditEvent.action == CalendarAction.FEED_REVOKED)


async def test_a_new_link_stops_the_old_one(client, make_client, programme):
    await login(client, "alice@example.org")
    old_path, _old = await create_link(client)
    new_path, _new = await create_link(client)
    assert old_path != new_path
    assert (await feed_of(make_client, old_path)).status_code == 404
    assert (await feed_of(make_client, new_path)).status_code == 200
    live = await CalendarFeed.count().where(
        CalendarFeed.user == programme.volunteer_a1.id, CalendarFeed.revoked_at.is_null()
    )
    assert live == 1


async def test_a_deactivated_users_feed_is_404(client, make_client, programme):
    await login(client, "alice@example.org")
    path, _token = await create_link(client)
    await User.update({User.is_active: False}).where(User.id == programme.volunteer_a1.id)
    assert (await feed_of(make_client, path)).status_code == 404


async def test_a_wrong_token_is_404_and_no_token_reaches_the_logs(client, make_client, programme, caplog):
    caplog.set_level(logging.DEBUG)
    await login(client, "alice@example.org")
    path, token = await create_link(client)
    wrong = "x" * 43
    reader = await make_client()
    assert (await reader.get(f"/calendar/{wrong}.ics")).status_code == 404
    assert (await reader.get(f"/calendar/{token}")).status_code == 404  # without .ics
    assert (await reader.get(f"/calendar/{'y' * 500}.ics")).status_code == 404
    assert (await reader.get(path)).status_code == 200

    app_logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert "GET /calendar/{feed_file} 200" in app_logs
    assert "GET /calendar/{feed_file} 404" in app_logs
    for secret in (token, wrong):
        assert secret not in app_logs
