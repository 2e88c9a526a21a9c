"""Scheduled jobs: reminders and quiet-circle alerts go out exactly once, however often and however many run."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from circles import jobs
from circles.tables import CheckIn, Circle, Meeting, MeetingSeries
from cosa import outbox
from cosa.clock import utcnow
from cosa.i18n import LONDON
from cosa.tables import OutboxMessage
from cosa.web import make_environment

JINJA = make_environment()


async def tomorrow_evening_meeting(programme, **fields):
    day = utcnow().astimezone(LONDON).date() + timedelta(days=1)
    starts = datetime.combine(day, datetime.min.time(), tzinfo=LONDON).replace(hour=18, minute=30)
    meeting = Meeting(
        circle=programme.circle_a.id,
        starts_at=starts,
        ends_at=starts + timedelta(hours=1),
        venue="Library",
        created_at=utcnow(),
        **fields,
    )
    await meeting.save()
    return meeting


async def test_volunteers_are_reminded_the_day_before_exactly_once(programme, mail_settings, inbox):
    await tomorrow_evening_meeting(programme)
    # Two processes run the job at the same moment, then it runs again after a restart.
    results = await asyncio.gather(*(jobs.meeting_reminders(mail_settings, JINJA) for _ in range(2)))
    assert sum(results) == 2  # Alice and Bob, once each
    assert await jobs.meeting_reminders(mail_settings, JINJA) == 0
    await outbox.deliver_due(mail_settings)
    assert sorted(str(m["To"]) for m in inbox.messages) == ["alice@example.org", "bob@example.org"]
    body = inbox.body(inbox.messages[0])
    assert "Circle Rowan" in body and "Library" in body and "Daniel" not in body


async def test_a_cancelled_meeting_sends_no_reminder_and_a_moved_one_sends_a_new_one(programme, mail_settings):
    meeting = await tomorrow_evening_meeting(programme)
    await jobs.meeting_reminders(mail_settings, JINJA)
    await Meeting.update({Meeting.starts_at: meeting.starts_at + timedelta(hours=1)}).where(Meeting.id == meeting.id)
    assert await jobs.meeting_reminders(mail_settings, JINJA) == 2
    await Meeting.update({Meeting.cancelled_at: utcnow()}).where(Meeting.id == meeting.id)
    await Meeting.update({Meeting.starts_at: meeting.starts_at + timedelta(hours=2)}).where(Meeting.id == meeting.id)
    assert await jobs.meeting_reminders(mail_settings, JINJA) == 0


async def test_minutes_are_reminded_when_due_and_again_when_overdue(programme, mail_settings, inbox):
    now = utcnow()
    ended = now - timedelta(hours=2)
    meeting = Meeting(
        circle=programme.circle_a.id,
        starts_at=ended - timedelta(hours=1),
        ends_at=ended,
        minute_taker=programme.alice.id,
        created_at=now,
    )
    await meeting.save()
    assert await jobs.minutes_reminders(mail_settings, JINJA, now) == 1
    assert await jobs.minutes_reminders(mail_settings, JINJA, now + timedelta(hours=1)) == 0
    assert await jobs.minutes_reminders(mail_settings, JINJA, now + timedelta(hours=47)) == 1  # now overdue
    assert await jobs.minutes_reminders(mail_settings, JINJA, now + timedelta(hours=60)) == 0
    await Meeting.update({Meeting.minutes_status: "submitted"}).where(Meeting.id == meeting.id)
    await outbox.deliver_due(mail_settings, now + timedelta(hours=61))
    subjects = [str(m["Subject"]) for m in inbox.messages]
    assert subjects == ["Minutes for Circle Rowan are due", "Minutes for Circle Rowan are overdue"]


async def test_a_quiet_circle_alerts_its_coordinator_once_per_window(programme, mail_settings):
    now = utcnow()
    await Circle.update({Circle.state: "active"}).where(Circle.id == programme.circle_a.id)
    await CheckIn(
        circle=programme.circle_a.id,
        volunteer=programme.alice.id,
        idempotency_key="q1",
        happened_at=now - timedelta(days=8),
        method="phone",
        created_at=now,
    ).save()
    assert await jobs.quiet_circles(mail_settings, JINJA, now) == 0  # 8 days: inside 7 days plus 2 days' grace
    assert await jobs.quiet_circles(mail_settings, JINJA, now + timedelta(days=2)) == 1
    assert await asyncio.gather(
        *(jobs.quiet_circles(mail_settings, JINJA, now + timedelta(days=3)) for _ in range(2))
    ) == [0, 0]
    assert await jobs.quiet_circles(mail_settings, JINJA, now + timedelta(days=9)) == 1  # another full window
    await CheckIn(
        circle=programme.circle_a.id,
        volunteer=programme.alice.id,
        idempotency_key="q2",
        happened_at=now + timedelta(days=9),
        method="phone",
        created_at=now,
    ).save()
    assert await jobs.quiet_circles(mail_settings, JINJA, now + timedelta(days=10)) == 0
    assert await OutboxMessage.count().where(OutboxMessage.kind == "circle_quiet") == 2


def test_quiet_periods():
    last = datetime(2026, 1, 1, tzinfo=LONDON)
    week = timedelta(days=7)
    assert jobs.quiet_period(last, week, last + timedelta(days=9)) is None
    assert jobs.quiet_period(last, week, last + timedelta(days=9, hours=1)) == 0
    assert jobs.quiet_period(last, week, last + timedelta(days=16, hours=1)) == 1


async def test_open_ended_series_are_topped_up_without_duplicates(programme, settings):
    from datetime import time

    today = utcnow().astimezone(LONDON).date()
    series = MeetingSeries(
        circle=programme.circle_a.id,
        frequency="weekly",
        local_time=time(18, 30),
        first_on=today - timedelta(days=70),
        created_at=utcnow(),
    )
    await series.save()
    added = await jobs.extend_series(settings, JINJA)
    assert added > 30
    assert await jobs.extend_series(settings, JINJA) == 0
    assert await Meeting.count().where(Meeting.series == series.id) == added
