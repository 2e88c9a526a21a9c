"""Everyone's home page: the coordinator's dashboard, the volunteer's circles, the admin's tasks."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect
from piccolo.query.functions.aggregate import Count, Min

from circles.circle_pages import membership_labels
from circles.circle_services import circle_state_labels
from circles.concerns import severity_labels
from circles.concerns import state_labels as concern_state_labels
from circles.core_member_pages import today
from circles.jobs import OPEN_MINUTES, WATCHED_STATES, aware, last_contacts, quiet_period
from circles.meeting_services import MINUTES_DUE_AFTER, minutes_due_at
from circles.tables import (
    Circle,
    CircleMembership,
    CircleState,
    Concern,
    ConcernState,
    Escalation,
    Meeting,
    MembershipStatus,
    MinutesStatus,
    NeedChange,
)
from cosa.auth import signed_in
from cosa.choices import weekday_choices
from cosa.clock import utcnow
from cosa.outbox import undelivered_count
from cosa.tables import Role
from cosa.users import role_labels
from cosa.web import render
from volunteers.services import coordinator_alerts
from volunteers.tables import Volunteer

Req = Request[Any, Any, Any]

# The latest status of each need of each core member in a region, counted by status (one query).
NEEDS_BY_CORE_MEMBER = """
SELECT n.core_member AS core_member, n.status AS status, COUNT(*) AS n
FROM circles_need_change n
JOIN circles_core_member c ON c.id = n.core_member
WHERE c.region = {}
  AND n.id = (
    SELECT m.id FROM circles_need_change m
    WHERE m.core_member = n.core_member AND m.area = n.area
    ORDER BY m.changed_on DESC, m.id DESC LIMIT 1
  )
GROUP BY n.core_member, n.status
"""


@get("/", name="home", guards=[signed_in])
async def home(request: Req) -> Response[Any]:
    user = request.scope["user"]
    if user.role == Role.coordinator.value:
        return await coordinator_dashboard(request)
    if user.role == Role.volunteer.value:
        return await volunteer_home(request)
    if user.role == Role.probation.value:
        return Redirect(path=request.app.route_reverse("circles:escalations"), status_code=303)
    return render(request, "home.html", {"role_label": role_labels()[user.role]})


async def coordinator_dashboard(request: Req) -> Response[Any]:
    user = request.scope["user"]
    settings = request.app.state.settings
    state = request.query_params.get("state", "")
    mine = request.query_params.get("mine", "") == "1"
    query = Circle.select(
        Circle.id,
        Circle.public_id,
        Circle.code_name,
        Circle.state,
        Circle.state_changed_at,
        Circle.check_in_every_days,
        Circle.core_member,
        Circle.core_member._.full_name,
        Circle.core_member._.public_id,
        Circle.coordinator._.display_name,
    ).where(Circle.region == user.region)
    if state in circle_state_labels():
        query = query.where(Circle.state == state)
    else:
        state = ""
        query = query.where(Circle.state.not_in([CircleState.closed.value, CircleState.terminated.value]))
    if mine:
        query = query.where(Circle.coordinator == user.id)
    circles = await query.order_by(Circle.code_name)

    counts = await CircleMembership.select(CircleMembership.circle, CircleMembership.status).where(
        CircleMembership.circle._.region == user.region,
        CircleMembership.status.is_in([MembershipStatus.invited.value, MembershipStatus.accepted.value]),
    )
    seats: dict[int, dict[str, int]] = {}
    for row in counts:
        seats.setdefault(row["circle"], {"invited": 0, "accepted": 0})[row["status"]] += 1

    needs: dict[int, dict[str, int]] = {}
    for row in await NeedChange.raw(NEEDS_BY_CORE_MEMBER, user.region):
        needs.setdefault(row["core_member"], {})[row["status"]] = row["n"]

    now = utcnow()
    ids = [c["id"] for c in circles]
    next_meetings: dict[int, Any] = {}
    overdue: dict[int, int] = {}
    if ids:
        for row in (
            await Meeting.select(Meeting.circle, Min(Meeting.starts_at, alias="next"))
            .where(Meeting.circle.is_in(ids), Meeting.cancelled_at.is_null(), Meeting.starts_at >= now)
            .group_by(Meeting.circle)
        ):
            next_meetings[row["circle"]] = aware(row["next"])
        for row in (
            await Meeting.select(Meeting.circle, Count(Meeting.id, alias="n"))
            .where(
                Meeting.circle.is_in(ids),
                Meeting.cancelled_at.is_null(),
                Meeting.minute_taker.is_not_null(),
                Meeting.minutes_status.is_in(OPEN_MINUTES),
                Meeting.ends_at < now - MINUTES_DUE_AFTER,
            )
            .group_by(Meeting.circle)
        ):
            overdue[row["circle"]] = row["n"]
    contacts = await last_contacts(ids)

    for circle in circles:
        circle["seats"] = seats.get(circle["id"], {"invited": 0, "accepted": 0})
        circle["needs"] = needs.get(circle["core_member"], {})
        circle["next_meeting"] = next_meetings.get(circle["id"])
        circle["overdue_minutes"] = overdue.get(circle["id"], 0)
        last = contacts.get(circle["id"])
        circle["days_since_contact"] = (now - last).days if last else None
        circle["quiet"] = circle["state"] in WATCHED_STATES and (
            quiet_period(last or circle["state_changed_at"], timedelta(days=circle["check_in_every_days"]), now)
            is not None
        )

    alerts = await coordinator_alerts(user.region, today(), settings.dbs_renewal_years)
    open_concerns = (
        await Concern.select(
            Concern.public_id, Concern.severity, Concern.state, Concern.created_at, Concern.circle._.code_name
        )
        .where(
            Concern.circle._.region == user.region,
            Concern.state != ConcernState.closed.value,
        )
        .order_by(Concern.created_at)
        .limit(50)
    )
    waiting = (
        await Escalation.select(
            Escalation.created_at,
            Escalation.severity,
            Escalation.concern._.public_id,
            Escalation.concern._.circle._.code_name,
        )
        .where(
            Escalation.concern._.circle._.region == user.region,
            Escalation.acknowledged_at.is_null(),
            Escalation.closed_at.is_null(),
        )
        .order_by(Escalation.created_at)
    )
    for row in waiting:
        row["minutes"] = int((now - row["created_at"]).total_seconds() // 60)
    undelivered = await undelivered_count(timedelta(minutes=5), now)
    fragment = request.headers.get("hx-request") and not request.headers.get("hx-boosted")
    return render(
        request,
        "circles/dashboard.html",
        {
            "circles": circles,
            "states": circle_state_labels(),
            "state": state,
            "mine": mine,
            "alerts": alerts,
            "open_concerns": open_concerns,
            "waiting": waiting,
            "undelivered": undelivered,
            "severities": severity_labels(),
            "concern_states": concern_state_labels(),
        },
        block="circle_list" if fragment else None,
    )


async def volunteer_home(request: Req) -> Response[Any]:
    user = request.scope["user"]
    rows = (
        await CircleMembership.select(
            CircleMembership.public_id,
            CircleMembership.status,
            CircleMembership.invited_at,
            CircleMembership.circle.as_alias("circle_id"),
            CircleMembership.circle._.public_id,
            CircleMembership.circle._.code_name,
            CircleMembership.circle._.state,
            CircleMembership.circle._.meeting_weekday,
            CircleMembership.circle._.meeting_time,
            CircleMembership.circle._.venue,
        )
        .where(
            CircleMembership.volunteer.is_in(Volunteer.select(Volunteer.id).where(Volunteer.user == user.id)),
            CircleMembership.status.is_in([MembershipStatus.invited.value, MembershipStatus.accepted.value]),
            CircleMembership.circle._.state.not_in([CircleState.closed.value, CircleState.terminated.value]),
        )
        .order_by(CircleMembership.invited_at)
    )
    circle_ids = [r["circle_id"] for r in rows if r["status"] == MembershipStatus.accepted.value]
    now = utcnow()
    upcoming = []
    owed = []
    if circle_ids:
        upcoming = (
            await Meeting.select(Meeting.public_id, Meeting.starts_at, Meeting.venue, Meeting.circle._.code_name)
            .where(Meeting.circle.is_in(circle_ids), Meeting.cancelled_at.is_null(), Meeting.ends_at >= now)
            .order_by(Meeting.starts_at)
            .limit(5)
        )
        owed = (
            await Meeting.select(Meeting.public_id, Meeting.starts_at, Meeting.ends_at, Meeting.circle._.code_name)
            .where(
                Meeting.circle.is_in(circle_ids),
                Meeting.cancelled_at.is_null(),
                Meeting.ends_at < now,
                Meeting.minute_taker.is_in(Volunteer.select(Volunteer.id).where(Volunteer.user == user.id)),
                Meeting.minutes_status.is_in([MinutesStatus.none.value, MinutesStatus.draft.value]),
            )
            .order_by(Meeting.starts_at)
        )
    for meeting in owed:
        meeting["due_at"] = minutes_due_at(meeting)
        meeting["overdue"] = now > meeting["due_at"]
    return render(
        request,
        "circles/volunteer_home.html",
        {
            "upcoming": upcoming,
            "owed": owed,
            "invitations": [r for r in rows if r["status"] == MembershipStatus.invited.value],
            "circles": [r for r in rows if r["status"] == MembershipStatus.accepted.value],
            "states": circle_state_labels(),
            "weekdays": weekday_choices(),
            "membership_labels": membership_labels(),
        },
    )
