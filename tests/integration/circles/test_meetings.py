"""Meetings: scheduling across clock changes, clashes, series edits, attendance, minutes and who reads them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from circles.tables import Attendance, Meeting
from cosa.clock import utcnow
from tests.integration.circles.conftest import TODAY
from tests.integration.conftest import form_post, login

NEXT_YEAR = TODAY.year + 1


def spring_monday() -> date:
    """The Monday a fortnight before the clocks go forward (last Sunday of March) next year."""
    last_sunday = max(date(NEXT_YEAR, 3, d) for d in range(25, 32) if date(NEXT_YEAR, 3, d).weekday() == 6)
    return last_sunday - timedelta(days=13)


async def schedule(client, circle, **overrides):
    data = {
        "first_on": spring_monday().isoformat(),
        "at": "18:30",
        "duration": "90",
        "frequency": "weekly",
        "until_on": (spring_monday() + timedelta(weeks=3)).isoformat(),
        "venue": "Library",
    }
    data.update(overrides)
    return await form_post(client, f"/circles/{circle.public_id}/meetings/new", data)


async def meetings_of(circle):
    return await Meeting.select().where(Meeting.circle == circle.id).order_by(Meeting.starts_at)


async def test_weekly_meetings_stay_at_local_time_across_the_clock_change(client, programme):
    await login(client, "cara@example.org")
    response = await schedule(client, programme.circle_a)
    assert response.status_code == 303
    rows = await meetings_of(programme.circle_a)
    assert [r["starts_at"].astimezone(UTC).hour for r in rows] == [18, 18, 17, 17]
    assert all(r["ends_at"] - r["starts_at"] == timedelta(minutes=90) for r in rows)
    page = await client.get(f"/circles/{programme.circle_a.public_id}")
    assert "18:30" in page.text and "17:30" not in page.text.split('id="meetings"')[1].split("</section>")[0]


async def test_a_meeting_in_the_past_is_refused_and_the_form_kept(client, programme):
    await login(client, "cara@example.org")
    response = await schedule(
        client, programme.circle_a, first_on=(TODAY - timedelta(days=1)).isoformat(), venue="Old hall"
    )
    assert response.status_code == 400
    assert "today or in the future" in response.text and 'value="Old hall"' in response.text
    bad = await schedule(client, programme.circle_a, at="25:99", frequency="daily")
    assert bad.status_code == 400 and "Enter a time like 18:30." in bad.text and "Choose how often" in bad.text
    assert await Meeting.count() == 0


async def test_clashes_with_a_volunteers_other_circle_are_shown_before_scheduling(client, programme):
    # Charlie is in circle B; seat Charlie in circle A too, and give B a meeting at the same time.
    from tests.integration.circles.conftest import seat

    await seat(programme.circle_a, programme.charlie)
    starts = datetime.combine(spring_monday(), datetime.min.time(), tzinfo=UTC).replace(hour=18)
    await Meeting(
        circle=programme.circle_b.id, starts_at=starts, ends_at=starts + timedelta(hours=1), created_at=utcnow()
    ).save()
    await login(client, "cara@example.org")
    warned = await schedule(client, programme.circle_a, frequency="once")
    assert warned.status_code == 200 and "Charlie Volunteer has a Circle Hazel meeting then." in warned.text
    assert await Meeting.count().where(Meeting.circle == programme.circle_a.id) == 0
    confirmed = await schedule(client, programme.circle_a, frequency="once", confirm="1")
    assert confirmed.status_code == 303
    assert await Meeting.count().where(Meeting.circle == programme.circle_a.id) == 1


async def test_one_meeting_or_the_rest_of_the_series_can_be_moved_or_cancelled(client, programme):
    await login(client, "cara@example.org")
    await schedule(client, programme.circle_a)
    first, second, third, _fourth = await meetings_of(programme.circle_a)
    moved = await form_post(
        client,
        f"/meetings/{second['public_id']}/reschedule",
        {"day": (spring_monday() + timedelta(days=8)).isoformat(), "time": "19:00", "scope": "one"},
    )
    assert moved.status_code == 303
    rows = await meetings_of(programme.circle_a)
    assert rows[1]["starts_at"].astimezone(UTC).hour == 19 and rows[1]["starts_at"].weekday() == 1  # Tuesday 19:00 GMT
    assert rows[2]["starts_at"] == third["starts_at"]
    rest = await form_post(
        client,
        f"/meetings/{third['public_id']}/reschedule",
        {"day": (third["starts_at"].date() + timedelta(days=2)).isoformat(), "time": "17:00", "scope": "rest"},
    )
    assert rest.status_code == 303
    rows = await meetings_of(programme.circle_a)
    assert [r["starts_at"].astimezone(UTC).hour for r in rows[2:]] == [16, 16]  # 17:00 BST
    cancelled = await form_post(
        client, f"/meetings/{rows[2]['public_id']}/cancel", {"reason": "Venue closed", "scope": "rest"}
    )
    assert cancelled.status_code == 303
    rows = await meetings_of(programme.circle_a)
    assert [r["cancelled_at"] is not None for r in rows] == [False, False, True, True]
    again = await form_post(client, f"/meetings/{rows[2]['public_id']}/cancel", {"scope": "one"})
    assert again.status_code == 400 and "already cancelled" in again.text
    past = await form_post(client, f"/meetings/{first['public_id']}/reschedule", {"day": "2000-01-01", "time": "10:00"})
    assert past.status_code == 400


async def past_meeting(programme, minute_taker=None):
    starts = utcnow() - timedelta(days=3)
    meeting = Meeting(
        circle=programme.circle_a.id,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        created_at=utcnow(),
        minute_taker=minute_taker.id if minute_taker else None,
    )
    await meeting.save()
    return meeting


async def test_attendance_is_recorded_for_the_core_member_and_each_volunteer(client, programme):
    meeting = await past_meeting(programme)
    await login(client, "cara@example.org")
    data = {
        "core_member": "attended",
        f"volunteer-{programme.alice.id}": "attended",
        f"volunteer-{programme.bob.id}": "apologies",
    }
    assert (await form_post(client, f"/meetings/{meeting.public_id}/attendance", data)).status_code == 303
    rows = {r["volunteer"]: r["status"] for r in await Attendance.select().where(Attendance.meeting == meeting.id)}
    assert rows == {None: "attended", programme.alice.id: "attended", programme.bob.id: "apologies"}
    bad = await form_post(client, f"/meetings/{meeting.public_id}/attendance", {"core_member": "asleep"})
    assert bad.status_code == 400


async def test_the_minutes_workflow_and_who_may_read_them(client, make_client, programme):
    meeting = await past_meeting(programme)
    await login(client, "cara@example.org")
    await form_post(client, f"/meetings/{meeting.public_id}/minute-taker", {"minute_taker": str(programme.alice.id)})
    await meeting.refresh()
    assert meeting.minute_taker == programme.alice.id

    bob = await make_client()
    await login(bob, "bob@example.org")
    assert (
        await form_post(bob, f"/meetings/{meeting.public_id}/minutes", {"minutes": "Not mine", "action": "submit"})
    ).status_code == 404

    alice = await make_client()
    await login(alice, "alice@example.org")
    page = await alice.get(f"/meetings/{meeting.public_id}")
    assert "Your minutes" in page.text
    empty = await form_post(alice, f"/meetings/{meeting.public_id}/minutes", {"minutes": " ", "action": "submit"})
    assert empty.status_code == 400 and "Write the minutes before sending them." in empty.text
    sent = await form_post(
        alice, f"/meetings/{meeting.public_id}/minutes", {"minutes": "We talked about work.", "action": "submit"}
    )
    assert sent.status_code == 303
    await meeting.refresh()
    assert meeting.minutes_status == "submitted"

    officer = await make_client()
    await login(officer, "priya@example.org")
    assert (await officer.get(f"/meetings/{meeting.public_id}")).status_code == 404  # not shared yet

    too_soon = await form_post(client, f"/meetings/{meeting.public_id}/share")
    assert too_soon.status_code == 400 and "Approve the minutes before sharing" in too_soon.text
    await form_post(
        client,
        f"/meetings/{meeting.public_id}/minutes",
        {"minutes": "We talked about work and housing.", "action": "approve"},
    )
    assert (await form_post(client, f"/meetings/{meeting.public_id}/share")).status_code == 303
    shared = await officer.get(f"/meetings/{meeting.public_id}")
    assert shared.status_code == 200 and "We talked about work and housing." in shared.text

    late = await form_post(alice, f"/meetings/{meeting.public_id}/minutes", {"minutes": "Changed", "action": "save"})
    assert late.status_code == 400 and "approved" in late.text

    other = await make_client()
    await login(other, "oscar@example.org")
    assert (await other.get(f"/meetings/{meeting.public_id}")).status_code == 404
    charlie = await make_client()
    await login(charlie, "charlie@example.org")
    assert (await charlie.get(f"/meetings/{meeting.public_id}")).status_code == 404


async def test_overdue_minutes_are_marked(client, programme):
    meeting = await past_meeting(programme, minute_taker=programme.alice)
    await login(client, "cara@example.org")
    page = await client.get(f"/meetings/{meeting.public_id}")
    assert "Overdue" in page.text
