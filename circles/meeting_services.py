"""Meetings: scheduling single and recurring ones, changing one or the rest of a series, attendance and
the minutes workflow (the minute-taker writes, the coordinator reviews and shares with the outer circle)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from circles.schedule import Booking, local_to_utc, occurrences
from circles.tables import (
    Attendance,
    CircleMembership,
    Frequency,
    Meeting,
    MeetingSeries,
    MembershipStatus,
    MinutesStatus,
)
from cosa import audit, i18n
from cosa.db import write_transaction
from cosa.i18n import LONDON
from volunteers.tables import Volunteer

MINUTES_DUE_AFTER = timedelta(hours=48)


class MeetingRuleBroken(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MeetingAction:
    SCHEDULED = "meeting.scheduled"
    RESCHEDULED = "meeting.rescheduled"
    CANCELLED = "meeting.cancelled"
    ATTENDANCE = "meeting.attendance_recorded"
    MINUTE_TAKER = "meeting.minute_taker_set"
    MINUTES_SAVED = "meeting.minutes_saved"
    MINUTES_SUBMITTED = "meeting.minutes_submitted"
    MINUTES_APPROVED = "meeting.minutes_approved"
    MINUTES_SHARED = "meeting.minutes_shared"


def minutes_due_at(meeting: dict[str, Any]) -> datetime:
    return meeting["ends_at"] + MINUTES_DUE_AFTER


def minutes_overdue(meeting: dict[str, Any], now: datetime) -> bool:
    return (
        meeting["cancelled_at"] is None
        and meeting["minute_taker"] is not None
        and meeting["minutes_status"] in (MinutesStatus.none.value, MinutesStatus.draft.value)
        and now > minutes_due_at(meeting)
    )


async def seated_volunteers(circle_id: int) -> list[dict[str, Any]]:
    return await CircleMembership.select(
        CircleMembership.volunteer, CircleMembership.volunteer._.display_name, CircleMembership.volunteer._.user
    ).where(CircleMembership.circle == circle_id, CircleMembership.status == MembershipStatus.accepted.value)


async def bookings_of(volunteer_ids: list[int], except_circle: int, start: datetime, end: datetime) -> list[Booking]:
    """The volunteers' meetings in their other circles within a time range (one query)."""
    if not volunteer_ids:
        return []
    rows = await Meeting.select(
        Meeting.starts_at,
        Meeting.ends_at,
        Meeting.circle._.code_name,
        Meeting.circle,
    ).where(
        Meeting.circle != except_circle,
        Meeting.cancelled_at.is_null(),
        Meeting.starts_at < end,
        Meeting.ends_at > start,
        Meeting.circle.is_in(
            CircleMembership.select(CircleMembership.circle).where(
                CircleMembership.volunteer.is_in(volunteer_ids),
                CircleMembership.status == MembershipStatus.accepted.value,
            )
        ),
    )
    members = await CircleMembership.select(CircleMembership.circle, CircleMembership.volunteer._.display_name).where(
        CircleMembership.volunteer.is_in(volunteer_ids), CircleMembership.status == MembershipStatus.accepted.value
    )
    names: dict[int, list[str]] = {}
    for m in members:
        names.setdefault(m["circle"], []).append(m["volunteer.display_name"])
    return [
        Booking(name, row["circle.code_name"], row["starts_at"], row["ends_at"])
        for row in rows
        for name in names.get(row["circle"], [])
    ]


async def schedule(
    *,
    by: Any,
    circle: dict[str, Any],
    frequency: str,
    first_on: date,
    at: time,
    duration_minutes: int,
    until_on: date | None,
    venue: str,
    now: datetime,
) -> int:
    """Create a single meeting or a series; returns how many meetings were scheduled."""
    today = now.astimezone(LONDON).date()
    planned = occurrences(frequency, first_on, at, duration_minutes, until_on, today)
    async with write_transaction():
        series_id = None
        if frequency != Frequency.once:
            rows = await MeetingSeries.insert(
                MeetingSeries(
                    circle=circle["id"],
                    frequency=frequency,
                    local_time=at,
                    duration_minutes=duration_minutes,
                    first_on=first_on,
                    until_on=until_on,
                    venue=venue,
                    created_at=now,
                    created_by=by.id,
                )
            ).returning(MeetingSeries.id)
            series_id = rows[0]["id"]
        for starts, ends in planned:
            await Meeting.insert(
                Meeting(
                    circle=circle["id"], series=series_id, starts_at=starts, ends_at=ends, venue=venue, created_at=now
                )
            )
        await audit.record(
            MeetingAction.SCHEDULED,
            actor=by,
            object_type="circle",
            object_id=circle["public_id"],
            detail={"frequency": frequency, "meetings": len(planned)},
            now=now,
        )
    return len(planned)


async def later_in_series(meeting: dict[str, Any]) -> list[dict[str, Any]]:
    """This meeting and the later ones of its series that have not been cancelled."""
    if meeting["series"] is None:
        return [meeting]
    return (
        await Meeting.select()
        .where(
            Meeting.series == meeting["series"],
            Meeting.starts_at >= meeting["starts_at"],
            Meeting.cancelled_at.is_null(),
        )
        .order_by(Meeting.starts_at)
    )


async def reschedule(*, by: Any, meeting: dict[str, Any], new_day: date, at: time, rest: bool, now: datetime) -> int:
    """Move one meeting, or this and the rest of its series by the same shift in local time."""
    old_local = meeting["starts_at"].astimezone(LONDON)
    duration = meeting["ends_at"] - meeting["starts_at"]
    shift_days = (new_day - old_local.date()).days
    async with write_transaction():
        targets = await later_in_series(meeting) if rest else [meeting]
        for target in targets:
            local_day = target["starts_at"].astimezone(LONDON).date() + timedelta(days=shift_days)
            starts = local_to_utc(local_day, at)
            await Meeting.update({Meeting.starts_at: starts, Meeting.ends_at: starts + duration}).where(
                Meeting.id == target["id"]
            )
        if rest and meeting["series"] is not None:
            await MeetingSeries.update({MeetingSeries.local_time: at}).where(MeetingSeries.id == meeting["series"])
        await audit.record(
            MeetingAction.RESCHEDULED,
            actor=by,
            object_type="meeting",
            object_id=meeting["public_id"],
            detail={"meetings": len(targets)},
            now=now,
        )
    return len(targets)


async def cancel(*, by: Any, meeting: dict[str, Any], reason: str, rest: bool, now: datetime) -> int:
    async with write_transaction():
        targets = await later_in_series(meeting) if rest else [meeting]
        ids = [t["id"] for t in targets]
        await Meeting.update({Meeting.cancelled_at: now, Meeting.cancelled_reason: reason[:200]}).where(
            Meeting.id.is_in(ids)
        )
        if rest and meeting["series"] is not None:
            last_day = meeting["starts_at"].astimezone(LONDON).date() - timedelta(days=1)
            await MeetingSeries.update({MeetingSeries.until_on: last_day}).where(MeetingSeries.id == meeting["series"])
        await audit.record(
            MeetingAction.CANCELLED,
            actor=by,
            object_type="meeting",
            object_id=meeting["public_id"],
            detail={"meetings": len(ids)},
            now=now,
        )
    return len(ids)


async def record_attendance(
    *, by: Any, meeting: dict[str, Any], statuses: dict[int | None, str], now: datetime
) -> None:
    """Replace the meeting's attendance; the key None is the core member."""
    async with write_transaction():
        await Attendance.delete().where(Attendance.meeting == meeting["id"])
        for volunteer_id, status in statuses.items():
            await Attendance.insert(Attendance(meeting=meeting["id"], volunteer=volunteer_id, status=status))
        await audit.record(
            MeetingAction.ATTENDANCE, actor=by, object_type="meeting", object_id=meeting["public_id"], now=now
        )


async def set_minute_taker(*, by: Any, meeting: dict[str, Any], volunteer_id: int | None, now: datetime) -> None:
    async with write_transaction():
        await Meeting.update({Meeting.minute_taker: volunteer_id}).where(Meeting.id == meeting["id"])
        await audit.record(
            MeetingAction.MINUTE_TAKER, actor=by, object_type="meeting", object_id=meeting["public_id"], now=now
        )


async def save_minutes(*, by: Any, meeting: dict[str, Any], text: str, submit: bool, now: datetime) -> None:
    """The minute-taker's draft or submission. Approved minutes are the coordinator's to change."""
    if meeting["minutes_status"] == MinutesStatus.approved:
        raise MeetingRuleBroken(i18n.gettext("These minutes are approved; ask your coordinator to change them."))
    status = MinutesStatus.submitted if submit else MinutesStatus.draft
    async with write_transaction():
        changes: dict[Any, Any] = {Meeting.minutes: text, Meeting.minutes_status: status.value}
        if submit:
            changes[Meeting.minutes_submitted_at] = now
        await Meeting.update(changes).where(Meeting.id == meeting["id"])
        action = MeetingAction.MINUTES_SUBMITTED if submit else MeetingAction.MINUTES_SAVED
        await audit.record(action, actor=by, object_type="meeting", object_id=meeting["public_id"], now=now)


async def review_minutes(*, by: Any, meeting: dict[str, Any], text: str, approve: bool, now: datetime) -> None:
    async with write_transaction():
        changes: dict[Any, Any] = {Meeting.minutes: text}
        if approve:
            changes.update(
                {
                    Meeting.minutes_status: MinutesStatus.approved.value,
                    Meeting.minutes_approved_at: now,
                    Meeting.minutes_approved_by: by.id,
                }
            )
        await Meeting.update(changes).where(Meeting.id == meeting["id"])
        action = MeetingAction.MINUTES_APPROVED if approve else MeetingAction.MINUTES_SAVED
        await audit.record(action, actor=by, object_type="meeting", object_id=meeting["public_id"], now=now)


async def share_minutes(*, by: Any, meeting: dict[str, Any], now: datetime) -> None:
    if meeting["minutes_status"] != MinutesStatus.approved:
        raise MeetingRuleBroken(i18n.gettext("Approve the minutes before sharing them with the outer circle."))
    async with write_transaction():
        await Meeting.update({Meeting.minutes_shared_at: now}).where(Meeting.id == meeting["id"])
        await audit.record(
            MeetingAction.MINUTES_SHARED, actor=by, object_type="meeting", object_id=meeting["public_id"], now=now
        )


async def volunteer_id_of(user: Any) -> int | None:
    row = await Volunteer.select(Volunteer.id).where(Volunteer.user == user.id).first()
    return row["id"] if row else None


async def circle_meetings(circle_id: int, now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(upcoming, recent) meetings of a circle, for its page."""
    upcoming = (
        await Meeting.select(
            Meeting.public_id,
            Meeting.starts_at,
            Meeting.venue,
            Meeting.cancelled_at,
            Meeting.minute_taker._.display_name,
        )
        .where(Meeting.circle == circle_id, Meeting.ends_at >= now)
        .order_by(Meeting.starts_at)
        .limit(6)
    )
    recent = (
        await Meeting.select(
            Meeting.public_id,
            Meeting.starts_at,
            Meeting.ends_at,
            Meeting.cancelled_at,
            Meeting.minute_taker,
            Meeting.minutes_status,
            Meeting.minutes_shared_at,
            Meeting.minute_taker._.display_name,
        )
        .where(Meeting.circle == circle_id, Meeting.ends_at < now)
        .order_by(Meeting.starts_at, ascending=False)
        .limit(6)
    )
    return upcoming, recent
