"""Retention: removing personal data whose period has passed, while the figures built on it survive.

The periods, their legal minimums and the reasoning are in cosa/retention.py. Here:

- `find_due` lists what has expired; `dry_run` reports it and changes nothing.
- `run` anonymises each expired record in its own short write transaction. The update that stamps
  `anonymised_at` is guarded by `anonymised_at IS NULL` and comes first, so it is the claim: when two
  processes (or the schedule and the command line) run at once, each record is done by exactly one of
  them, and a second run finds nothing. Rows that count things (circles, stages, meetings, attendance,
  check-ins and their indicators, concerns, their timelines and escalations) stay; their free text goes.
  Audit rows are never touched (a trigger refuses it) and hold identifiers only. One audit row per run
  records the counts.
- The scheduled job runs hourly but does its work once per London day: the first process to claim the
  day's once-only key runs it (restarts therefore never postpone it by a day).
- `RetentionController` is the administrator's page at /admin/retention.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from circles.lifecycle import FINISHED
from circles.tables import (
    CalendarFeed,
    CaseNote,
    CheckIn,
    Circle,
    CircleTransition,
    Concern,
    ConcernEvent,
    CoreMember,
    Escalation,
    Meeting,
    MeetingSeries,
    OuterCircleMember,
    RiskConnection,
)
from cosa import audit, i18n, retention
from cosa.audit import Action
from cosa.auth import admin_only, found_or_deny
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.forms import FormResult, read_form
from cosa.i18n import LONDON
from cosa.once import first_time
from cosa.scheduler import Job
from cosa.settings import Settings
from cosa.tables import Invitation, OutboxMessage, RecoveryCode, Role, User, UserSession
from cosa.web import flash, render
from volunteers.tables import SupervisionSession, Volunteer, VolunteerStatus

ANONYMISED = "Anonymised"
VOLUNTEER_ROLE = Role.volunteer.value
REJECTED_REASON = "application_not_taken_forward"  # the left_reason code of a rejected application
FINISHED_STATES = [str(s) for s in FINISHED]
Req = Request[Any, Any, Any]


@dataclass
class DueCoreMember:
    public_id: str
    circles: list[tuple[str, str]]  # (public id, code name): no names, no personal data


@dataclass
class DueVolunteer:
    public_id: str
    has_account: bool  # a volunteer's sign-in account, closed with the record


@dataclass
class RetentionReport:
    periods: dict[str, int]
    dry_run: bool
    core_members: list[DueCoreMember] = field(default_factory=list)
    volunteers: list[DueVolunteer] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "core_members": len(self.core_members),
            "circles": sum(len(c.circles) for c in self.core_members),
            "volunteers": len(self.volunteers),
            "accounts": sum(v.has_account for v in self.volunteers),
        }


def london_date(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


# --- what has expired ----------------------------------------------------------------------------------


async def find_due(now: datetime, periods: dict[str, int]) -> RetentionReport:
    report = RetentionReport(periods=periods, dry_run=True)
    report.core_members = await _due_core_members(now - timedelta(days=periods[retention.CLOSED_CIRCLE]))
    report.volunteers = await _due_volunteers(now - timedelta(days=periods[retention.REJECTED_APPLICATION]))
    return report


async def _due_core_members(cutoff: datetime) -> list[DueCoreMember]:
    """Core members not yet anonymised whose circles have all finished, the last one before `cutoff`, and
    whose licence and order ended before it too. A core member referred again keeps everything."""
    still_open = {
        row["core_member"]
        for row in await Circle.select(Circle.core_member).where(Circle.state.not_in(FINISHED_STATES))
    }
    rows = (
        await Circle.select(
            Circle.public_id,
            Circle.code_name,
            Circle.core_member,
            Circle.state_changed_at,  # set with the move to closed or terminated, which have no way out
            Circle.core_member._.public_id,
            Circle.core_member._.licence_ends_on,
            Circle.core_member._.order_ends_on,
        )
        .where(Circle.state.is_in(FINISHED_STATES), Circle.core_member._.anonymised_at.is_null())
        .order_by(Circle.state_changed_at)
    )
    grouped: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["core_member"] not in still_open:
            grouped.setdefault(row["core_member"], []).append(row)
    cutoff_day = london_date(cutoff)
    due = []
    for circles in grouped.values():
        first = circles[0]
        ends = [first["core_member.licence_ends_on"], first["core_member.order_ends_on"]]
        if max(c["state_changed_at"] for c in circles) >= cutoff:
            continue
        if any(end is not None and end >= cutoff_day for end in ends):
            continue
        due.append(
            DueCoreMember(
                public_id=str(first["core_member.public_id"]),
                circles=[(str(c["public_id"]), c["code_name"]) for c in circles],
            )
        )
    return due


async def _due_volunteers(cutoff: datetime) -> list[DueVolunteer]:
    rows = (
        await Volunteer.select(Volunteer.public_id, Volunteer.user._.role)
        .where(
            Volunteer.status == VolunteerStatus.left.value,
            Volunteer.left_reason == REJECTED_REASON,
            Volunteer.status_changed_at < cutoff,
            Volunteer.anonymised_at.is_null(),
        )
        .order_by(Volunteer.status_changed_at)
    )
    return [DueVolunteer(public_id=str(r["public_id"]), has_account=r["user.role"] == VOLUNTEER_ROLE) for r in rows]


async def dry_run(now: datetime | None = None) -> RetentionReport:
    """What a run now would anonymise: identifiers and code names only. Changes nothing."""
    now = now or utcnow()
    return await find_due(now, await retention.periods())


# --- anonymising ---------------------------------------------------------------------------------------


async def anonymise_core_member(public_id: str, now: datetime) -> DueCoreMember | None:
    """Remove one core member's personal data and their circles' free text. None when another run got
    there first, or a new circle was opened for them since the list was made."""
    async with write_transaction():
        member = (
            await CoreMember.select(CoreMember.id, CoreMember.referred_on)
            .where(CoreMember.public_id == public_id)
            .first()
        )
        if member is None:
            return None
        if await Circle.exists().where(Circle.core_member == member["id"], Circle.state.not_in(FINISHED_STATES)):
            return None
        referred = month_start(member["referred_on"])
        claimed = (
            await CoreMember.update(
                {
                    CoreMember.full_name: ANONYMISED,
                    CoreMember.known_as: "",
                    CoreMember.pronouns: "",
                    CoreMember.volunteer_gender_preference: "",
                    CoreMember.languages: [],
                    CoreMember.release_on: None,
                    CoreMember.licence_ends_on: None,
                    CoreMember.order_conditions: "",
                    CoreMember.order_ends_on: None,
                    CoreMember.offence_details: "",
                    CoreMember.address_district: "",
                    CoreMember.probation_officer: None,
                    CoreMember.referred_on: referred,
                    CoreMember.nrm_referred_on: None,
                    CoreMember.nrm_reasonable_grounds: "",
                    CoreMember.nrm_reasonable_grounds_on: None,
                    CoreMember.nrm_conclusive_grounds: "",
                    CoreMember.nrm_conclusive_grounds_on: None,
                    CoreMember.public_order_disqualification: False,
                    CoreMember.created_at: datetime.combine(referred, time(), tzinfo=LONDON),
                    CoreMember.updated_at: now,
                    CoreMember.anonymised_at: now,
                }
            )
            .where(CoreMember.id == member["id"], CoreMember.anonymised_at.is_null())
            .returning(CoreMember.id)
        )
        if not claimed:
            return None
        await RiskConnection.delete().where(RiskConnection.core_member == member["id"])
        await CaseNote.update({CaseNote.body: ""}).where(CaseNote.core_member == member["id"])
        circles = (
            await Circle.select(Circle.id, Circle.public_id, Circle.code_name)
            .where(Circle.core_member == member["id"])
            .order_by(Circle.state_changed_at)
        )
        await _clear_circles([c["id"] for c in circles], now)
    return DueCoreMember(public_id=str(public_id), circles=[(str(c["public_id"]), c["code_name"]) for c in circles])


async def _clear_circles(ids: list[int], now: datetime) -> None:
    """The circles' free text and the people around them go; the rows that count things stay."""
    if not ids:
        return
    await Circle.update(
        {
            Circle.venue: "",
            Circle.venue_district: "",
            Circle.covenant_text: "",
            Circle.termination_reason: "",
            Circle.anonymised_at: now,
        }
    ).where(Circle.id.is_in(ids))
    await CircleTransition.update({CircleTransition.reason: ""}).where(CircleTransition.circle.is_in(ids))
    await OuterCircleMember.delete().where(OuterCircleMember.circle.is_in(ids))
    await MeetingSeries.update({MeetingSeries.venue: ""}).where(MeetingSeries.circle.is_in(ids))
    await Meeting.update({Meeting.venue: "", Meeting.cancelled_reason: "", Meeting.minutes: ""}).where(
        Meeting.circle.is_in(ids)
    )
    await CheckIn.update({CheckIn.notes: ""}).where(CheckIn.circle.is_in(ids))
    await Concern.update({Concern.description: ""}).where(Concern.circle.is_in(ids))
    concern_ids = [r["id"] for r in await Concern.select(Concern.id).where(Concern.circle.is_in(ids))]
    if concern_ids:
        await ConcernEvent.update({ConcernEvent.note: ""}).where(ConcernEvent.concern.is_in(concern_ids))
        await Escalation.update({Escalation.action_notes: ""}).where(Escalation.concern.is_in(concern_ids))


async def anonymise_volunteer(public_id: str, now: datetime) -> DueVolunteer | None:
    """Remove a rejected applicant's personal data and close their account, if any. None when another run
    got there first."""
    async with write_transaction():
        volunteer = (
            await Volunteer.select(
                Volunteer.id,
                Volunteer.email,
                Volunteer.user,
                Volunteer.applied_on,
                Volunteer.user._.email,
                Volunteer.user._.role,
            )
            .where(Volunteer.public_id == public_id)
            .first()
        )
        if volunteer is None:
            return None
        claimed = (
            await Volunteer.update(
                {
                    Volunteer.display_name: ANONYMISED,
                    Volunteer.email: "",
                    Volunteer.phone: "",
                    Volunteer.home_district: "",  # the region is kept
                    Volunteer.languages: [],
                    Volunteer.availability: [],
                    Volunteer.declared_connections: "",
                    Volunteer.declared_districts: [],
                    Volunteer.applied_on: month_start(volunteer["applied_on"]),
                    Volunteer.interview_on: None,
                    Volunteer.reference_1_received_on: None,
                    Volunteer.reference_2_received_on: None,
                    Volunteer.dbs_certificate_on: None,
                    Volunteer.training_core_on: None,
                    Volunteer.training_msht_on: None,
                    Volunteer.training_trauma_on: None,
                    Volunteer.anonymised_at: now,
                }
            )
            .where(
                Volunteer.id == volunteer["id"],
                Volunteer.anonymised_at.is_null(),
                Volunteer.status == VolunteerStatus.left.value,
            )
            .returning(Volunteer.id)
        )
        if not claimed:
            return None
        await SupervisionSession.update({SupervisionSession.notes: ""}).where(
            SupervisionSession.volunteer == volunteer["id"]
        )
        addresses = {a for a in (volunteer["email"], volunteer["user.email"]) if a}
        # Only a volunteer's own login is closed: a staff account linked by mistake is left to an admin.
        has_account = volunteer["user.role"] == VOLUNTEER_ROLE
        if has_account:
            await _close_account(volunteer["user"], now)
        else:
            addresses.discard(volunteer["user.email"])
        await _forget_mail_to(addresses)
    return DueVolunteer(public_id=str(public_id), has_account=has_account)


async def _close_account(user_id: int, now: datetime) -> None:
    await User.update(
        {
            User.email: f"anonymised-{uuid.uuid4()}@invalid",  # .invalid never delivers (RFC 2606)
            User.display_name: ANONYMISED,
            User.password_hash: "",
            User.totp_secret: "",
            User.totp_enabled_at: None,
            User.totp_last_step: None,
            User.is_active: False,
        }
    ).where(User.id == user_id)
    await User.update({User.deactivated_at: now}).where(User.id == user_id, User.deactivated_at.is_null())
    await UserSession.delete().where(UserSession.user == user_id)
    await RecoveryCode.delete().where(RecoveryCode.user == user_id)
    await Invitation.delete().where(Invitation.user == user_id)
    await CalendarFeed.delete().where(CalendarFeed.user == user_id)


async def _forget_mail_to(addresses: set[str]) -> None:
    """Delete mail sent to these addresses (it holds the name), unless someone current still uses one."""
    for address in addresses:
        in_use = await Volunteer.exists().where(Volunteer.email == address) or await User.exists().where(
            User.email == address
        )
        if not in_use:
            await OutboxMessage.delete().where(OutboxMessage.recipient == address)


async def run(now: datetime | None = None, *, by: Any = None, via: str = "schedule") -> RetentionReport:
    """Anonymise everything that has expired; one audit row records the counts."""
    now = now or utcnow()
    due = await dry_run(now)
    report = RetentionReport(periods=due.periods, dry_run=False)
    for member in due.core_members:
        done = await anonymise_core_member(member.public_id, now)
        if done is not None:
            report.core_members.append(done)
    for volunteer in due.volunteers:
        done_volunteer = await anonymise_volunteer(volunteer.public_id, now)
        if done_volunteer is not None:
            report.volunteers.append(done_volunteer)
    await audit.record(
        Action.RETENTION_RUN,
        actor=by,
        object_type="retention",
        detail={"via": via, **report.counts(), "periods": report.periods},
        now=now,
    )
    return report


def report_lines(report: RetentionReport) -> list[str]:
    """The command line's account of a run or a dry run: counts, identifiers and code names only."""
    counts = report.counts()
    circle_days = report.periods[retention.CLOSED_CIRCLE]
    application_days = report.periods[retention.REJECTED_APPLICATION]
    verb = "Would anonymise" if report.dry_run else "Anonymised"
    lines = ["Dry run: nothing has been changed."] if report.dry_run else []
    lines.append(
        f"{verb} {counts['core_members']} core member(s) with {counts['circles']} circle(s), "
        f"{circle_days} days after the last circle closed:"
    )
    for member in report.core_members:
        circles = ", ".join(f"{public_id} ({code_name})" for public_id, code_name in member.circles)
        lines.append(f"  core member {member.public_id}: circle {circles}")
    lines.append(
        f"{verb} {counts['volunteers']} rejected volunteer application(s), {application_days} days after "
        f"rejection, closing {counts['accounts']} sign-in account(s):"
    )
    for volunteer in report.volunteers:
        lines.append(
            f"  volunteer {volunteer.public_id}" + (" (has a sign-in account)" if volunteer.has_account else "")
        )
    if not report.dry_run:
        lines.append("The counts are recorded in the audit trail.")
    return lines


# --- the schedule --------------------------------------------------------------------------------------


async def daily_run(settings: Settings, now: datetime | None = None) -> RetentionReport | None:
    """Run once per London day, whichever process gets there first; None when today's run is taken."""
    now = now or utcnow()
    async with write_transaction():
        if not await first_time(f"retention:{london_date(now).isoformat()}", now):
            return None
    return await run(now, via="schedule")


JOBS = [Job("circles.retention", daily_run, seconds=3600)]


# --- the administrator's page --------------------------------------------------------------------------


def ran_via_labels() -> dict[str, str]:
    return {
        "schedule": i18n.gettext("the daily schedule"),
        "cli": i18n.gettext("the command line"),
    }


class RetentionController(Controller):
    path = "/admin/retention"
    guards = [admin_only]

    @get("/", name="admin:retention")
    async def page(self, request: Req) -> Response[Any]:
        return await self._page(request)

    @post("/{kind:str}", name="admin:retention_save")
    async def save(self, request: Req, kind: FromPath[str]) -> Response[Any]:
        chosen = await found_or_deny(request, retention.KINDS.get(kind), "retention_setting", kind)
        result = FormResult(await read_form(request))
        days = retention.check_days(result, chosen)
        if days is None:
            return await self._page(request, result=result, status_code=400)
        label = retention.labels()[kind]
        if await retention.change_period(by=request.scope["user"], kind=chosen, days=days, now=utcnow()):
            flash(
                request,
                "success",
                i18n.gettext(
                    "%(kind)s are now kept for %(period)s. The next daily run applies it.",
                    kind=label,
                    period=retention.describe_days(days),
                ),
            )
        else:
            flash(
                request, "info", i18n.gettext("%(kind)s: the period was already %(days)s days.", kind=label, days=days)
            )
        return Redirect(path=request.app.route_reverse("admin:retention"), status_code=303)

    async def _page(self, request: Req, *, result: FormResult | None = None, status_code: int = 200) -> Response[Any]:
        now = utcnow()
        stored = await retention.stored_settings()
        periods = await retention.periods()
        due = (await find_due(now, periods)).counts()
        labels, starts, effects = retention.labels(), retention.starts(), retention.effects()
        kinds = []
        values: dict[str, str] = {}
        for name, kind in retention.KINDS.items():
            saved = stored.get(name)
            values[name] = str(periods[name])
            kinds.append(
                {
                    "name": name,
                    "label": labels[name],
                    "days": periods[name],
                    "described": retention.describe_days(periods[name]),
                    "default": retention.describe_days(kind.default_days),
                    "minimum": retention.describe_days(kind.minimum_days),
                    "maximum": retention.MAXIMUM_DAYS,
                    "minimum_days": kind.minimum_days,
                    "reason": retention.minimum_reasons()[name],
                    "start": starts[name],
                    "effects": effects[name],
                    "saved": saved,
                }
            )
        if result is not None:
            values.update({k: v for k, v in result.values.items() if k in retention.KINDS})
        last = await retention.last_run()
        return render(
            request,
            "admin/retention.html",
            {
                "kinds": kinds,
                "values": values,
                "errors": result.errors if result is not None else {},
                "due": due,
                "last": last,
                "last_via": ran_via_labels().get(last["detail"].get("via", ""), "") if last else "",
            },
            status_code=status_code,
        )
