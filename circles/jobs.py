"""The circles feature's scheduled jobs: meeting and minutes reminders, quiet circles, series top-ups.

Every job is idempotent and safe with several processes: each email is claimed with a once-only key in the
same transaction as its outbox row (cosa/once.py), so it goes out exactly once. Tests call the functions
directly with an explicit `now`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Max

from circles.meeting_services import MINUTES_DUE_AFTER
from circles.schedule import occurrences
from circles.tables import (
    CheckIn,
    Circle,
    CircleMembership,
    CircleState,
    Meeting,
    MeetingSeries,
    MembershipStatus,
    MinutesStatus,
)
from cosa import i18n, outbox
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.i18n import LONDON
from cosa.once import first_time
from cosa.scheduler import Job
from cosa.settings import Settings

QUIET_GRACE = timedelta(days=2)
WATCHED_STATES = [CircleState.active.value, CircleState.tapering.value, CircleState.ending.value]
OPEN_MINUTES = [MinutesStatus.none.value, MinutesStatus.draft.value]


def _render(settings: Settings, jinja: Any, template: str, locale: str, **context: Any) -> tuple[str, str]:
    """(subject, body) of an email in the recipient's language; the subject is the body's first line."""
    with i18n.in_locale(locale):
        return outbox.render_email(jinja, template, base_url=settings.base_url, **context)


async def _send_once(
    settings: Settings,
    jinja: Any,
    key: str,
    user: dict[str, Any],
    template: str,
    kind: str,
    now: datetime,
    **context: Any,
) -> bool:
    subject, body = _render(settings, jinja, template, user["locale"], name=user["display_name"], **context)
    async with write_transaction():
        if not await first_time(key, now):
            return False
        await outbox.enqueue(settings, recipient=user["email"], subject=subject, body_text=body, kind=kind, now=now)
    return True


async def meeting_reminders(settings: Settings, jinja: Any, now: datetime | None = None) -> int:
    """Remind each volunteer of a circle, the day before (London time), of its meeting."""
    now = now or utcnow()
    tomorrow = now.astimezone(LONDON).date() + timedelta(days=1)
    start = datetime.combine(tomorrow, datetime.min.time(), tzinfo=LONDON)
    meetings = await Meeting.select(
        Meeting.id, Meeting.public_id, Meeting.circle, Meeting.starts_at, Meeting.venue, Meeting.circle._.code_name
    ).where(
        Meeting.cancelled_at.is_null(),
        Meeting.starts_at >= start,
        Meeting.starts_at < start + timedelta(days=1),
        Meeting.circle._.state.not_in(
            [CircleState.closed.value, CircleState.terminated.value, CircleState.paused.value]
        ),
    )
    if not meetings:
        return 0
    members = await _volunteer_users([m["circle"] for m in meetings])
    sent = 0
    for meeting in meetings:
        for user in members.get(meeting["circle"], []):
            key = f"meeting-reminder:{meeting['public_id']}:{user['id']}:{meeting['starts_at'].isoformat()}"
            sent += await _send_once(
                settings,
                jinja,
                key,
                user,
                "meeting_reminder",
                "meeting_reminder",
                now,
                circle=meeting["circle.code_name"],
                starts_at=meeting["starts_at"],
                venue=meeting["venue"],
                link=f"{settings.base_url}/meetings/{meeting['public_id']}",
            )
    if sent:
        outbox.wake()
    return sent


async def _volunteer_users(circle_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The active logins of each circle's volunteers (one query)."""
    rows = await CircleMembership.select(
        CircleMembership.circle,
        CircleMembership.volunteer._.user._.id,
        CircleMembership.volunteer._.user._.email,
        CircleMembership.volunteer._.user._.display_name,
        CircleMembership.volunteer._.user._.locale,
        CircleMembership.volunteer._.user._.is_active,
    ).where(CircleMembership.circle.is_in(circle_ids), CircleMembership.status == MembershipStatus.accepted.value)
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        prefix = "volunteer.user."
        if row[prefix + "id"] is None or not row[prefix + "is_active"]:
            continue
        out.setdefault(row["circle"], []).append({k[len(prefix) :]: v for k, v in row.items() if k.startswith(prefix)})
    return out


async def minutes_reminders(settings: Settings, jinja: Any, now: datetime | None = None) -> int:
    """Tell the minute-taker when minutes fall due (the meeting has ended) and again when they are overdue."""
    now = now or utcnow()
    meetings = await Meeting.select(
        Meeting.id,
        Meeting.public_id,
        Meeting.starts_at,
        Meeting.ends_at,
        Meeting.circle._.code_name,
        Meeting.minute_taker._.user._.id,
        Meeting.minute_taker._.user._.email,
        Meeting.minute_taker._.user._.display_name,
        Meeting.minute_taker._.user._.locale,
        Meeting.minute_taker._.user._.is_active,
    ).where(
        Meeting.cancelled_at.is_null(),
        Meeting.minute_taker.is_not_null(),
        Meeting.minutes_status.is_in(OPEN_MINUTES),
        Meeting.ends_at <= now,
        Meeting.ends_at > now - timedelta(days=14),
    )
    sent = 0
    prefix = "minute_taker.user."
    for meeting in meetings:
        if meeting[prefix + "id"] is None or not meeting[prefix + "is_active"]:
            continue
        user = {k[len(prefix) :]: v for k, v in meeting.items() if k.startswith(prefix)}
        due = meeting["ends_at"] + MINUTES_DUE_AFTER
        overdue = now > due
        kind = "minutes_overdue" if overdue else "minutes_due"
        sent += await _send_once(
            settings,
            jinja,
            f"{kind}:{meeting['public_id']}:{user['id']}",
            user,
            kind,
            kind,
            now,
            circle=meeting["circle.code_name"],
            starts_at=meeting["starts_at"],
            due_at=due,
            link=f"{settings.base_url}/meetings/{meeting['public_id']}",
        )
    if sent:
        outbox.wake()
    return sent


async def last_contacts(circle_ids: list[int]) -> dict[int, datetime]:
    """The latest check-in of each circle (one query)."""
    if not circle_ids:
        return {}
    rows = (
        await CheckIn.select(CheckIn.circle, Max(CheckIn.happened_at, alias="last"))
        .where(CheckIn.circle.is_in(circle_ids))
        .group_by(CheckIn.circle)
    )
    return {row["circle"]: aware(row["last"]) for row in rows if row["last"] is not None}


def aware(value: Any) -> datetime:
    """SQLite hands MAX() back as text; PostgreSQL as a datetime."""
    parsed = datetime.fromisoformat(value) if isinstance(value, str) else value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)


def quiet_period(last: datetime, window: timedelta, now: datetime) -> int | None:
    """Which quiet period a circle is in (0, 1, ...), or None when it is not quiet."""
    silent = now - last - QUIET_GRACE
    if silent <= window:
        return None
    return int(silent / window) - 1


async def quiet_circles(settings: Settings, jinja: Any, now: datetime | None = None) -> int:
    """Email the coordinator once per quiet period of a circle (no repeat until another full window passes)."""
    now = now or utcnow()
    circles = await Circle.select(
        Circle.id,
        Circle.public_id,
        Circle.code_name,
        Circle.check_in_every_days,
        Circle.state_changed_at,
        Circle.coordinator._.id,
        Circle.coordinator._.email,
        Circle.coordinator._.display_name,
        Circle.coordinator._.locale,
        Circle.coordinator._.is_active,
    ).where(Circle.state.is_in(WATCHED_STATES))
    contacts = await last_contacts([c["id"] for c in circles])
    sent = 0
    for circle in circles:
        last = contacts.get(circle["id"], circle["state_changed_at"])
        period = quiet_period(last, timedelta(days=circle["check_in_every_days"]), now)
        if period is None or circle["coordinator.id"] is None or not circle["coordinator.is_active"]:
            continue
        user = {k.removeprefix("coordinator."): v for k, v in circle.items() if k.startswith("coordinator.")}
        sent += await _send_once(
            settings,
            jinja,
            f"quiet:{circle['public_id']}:{last.isoformat()}:{period}",
            user,
            "circle_quiet",
            "circle_quiet",
            now,
            circle=circle["code_name"],
            days=(now - last).days,
            link=f"{settings.base_url}/circles/{circle['public_id']}",
        )
    if sent:
        outbox.wake()
    return sent


async def extend_series(settings: Settings, jinja: Any, now: datetime | None = None) -> int:
    """Keep open-ended series scheduled six months ahead (idempotent: it adds only missing dates)."""
    now = now or utcnow()
    today = now.astimezone(LONDON).date()
    added = 0
    series_rows = await MeetingSeries.select().where(
        (MeetingSeries.until_on.is_null()) | (MeetingSeries.until_on >= today),
        MeetingSeries.circle._.state.not_in([CircleState.closed.value, CircleState.terminated.value]),
    )
    for series in series_rows:
        async with write_transaction():
            existing = {
                r["starts_at"] for r in await Meeting.select(Meeting.starts_at).where(Meeting.series == series["id"])
            }
            latest = max(existing) if existing else None
            for starts, ends in occurrences(
                series["frequency"],
                series["first_on"],
                series["local_time"],
                series["duration_minutes"],
                series["until_on"],
                today,
            ):
                if latest is not None and starts <= latest:
                    continue
                await Meeting.insert(
                    Meeting(
                        circle=series["circle"],
                        series=series["id"],
                        starts_at=starts,
                        ends_at=ends,
                        venue=series["venue"],
                        created_at=now,
                    )
                )
                added += 1
    return added


def _jobs() -> list[Job]:
    def with_templates(func: Any) -> Any:
        async def run(settings: Settings) -> Any:
            from cosa.web import make_environment

            return await func(settings, make_environment())

        run.__name__ = func.__name__
        return run

    return [
        Job("circles.meeting_reminders", with_templates(meeting_reminders), seconds=600),
        Job("circles.minutes_reminders", with_templates(minutes_reminders), seconds=600),
        Job("circles.quiet_circles", with_templates(quiet_circles), seconds=1800),
        Job("circles.extend_series", with_templates(extend_series), seconds=86400),
    ]


JOBS = _jobs()
