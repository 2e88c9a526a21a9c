"""Subject access (SECURITY.md 17) for a volunteer: everything held about them, and nothing about anyone else.

Built with the shared machinery in circles/subject_access.py. What a volunteer's records say about the core
members they support (check-in notes, wellbeing, indicators, concern descriptions, minutes) is the core
member's personal data, not theirs: the export keeps that the volunteer did these things, and when, but
leaves out what they wrote about someone else. Core members appear only as their circle's code name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from circles.check_ins import method_labels
from circles.circle_pages import membership_labels
from circles.concerns import severity_labels, state_labels
from circles.meeting_pages import attendance_labels, minutes_labels
from circles.subject_access import (
    Column,
    Export,
    Part,
    People,
    audit_part,
    audit_rows,
    build_zip,
    confirm_page,
    download,
    region_name,
    users_by_id,
)
from circles.tables import (
    Attendance,
    CalendarFeed,
    CheckIn,
    Circle,
    CircleMembership,
    Concern,
    ConcernEvent,
    Meeting,
)
from cosa import audit, i18n
from cosa.audit import Action
from cosa.auth import deny, found_or_deny, keyed_hash, roles
from cosa.choices import gender_choices, slot_choices
from cosa.clock import utcnow
from cosa.languages import language_choices
from cosa.settings import Settings
from cosa.tables import Invitation, LoginThrottle, OutboxMessage, RecoveryCode, Role, User, UserSession
from volunteers import services
from volunteers.forms import left_reason_choices, status_labels, vetting_labels
from volunteers.tables import SupervisionSession, VolunteerStatusChange

Req = Request[Any, Any, Any]


async def volunteer_export(volunteer: dict[str, Any], *, by: Any, settings: Settings, now: datetime) -> Export:
    """Everything held about one volunteer, in a fixed number of queries."""
    volunteer_id, user_id = volunteer["id"], volunteer["user"]
    history = (
        await VolunteerStatusChange.select()
        .where(VolunteerStatusChange.volunteer == volunteer_id)
        .order_by(VolunteerStatusChange.changed_at)
        .order_by(VolunteerStatusChange.id)
    )
    supervision = (
        await SupervisionSession.select()
        .where(SupervisionSession.volunteer == volunteer_id)
        .order_by(SupervisionSession.held_on)
        .order_by(SupervisionSession.id)
    )
    memberships = (
        await CircleMembership.select(
            *CircleMembership.all_columns(), CircleMembership.circle._.code_name.as_alias("code_name")
        )
        .where(CircleMembership.volunteer == volunteer_id)
        .order_by(CircleMembership.invited_at)
        .order_by(CircleMembership.id)
    )
    circle_ids = sorted({row["circle"] for row in memberships})
    attendance = (
        await Attendance.select(
            Attendance.status,
            Attendance.meeting._.public_id.as_alias("meeting"),
            Attendance.meeting._.starts_at.as_alias("starts_at"),
            Attendance.meeting._.circle._.code_name.as_alias("circle"),
        )
        .where(Attendance.volunteer == volunteer_id)
        .order_by(Attendance.meeting._.starts_at)
        .order_by(Attendance.id)
    )
    # Minutes they took: that they did, not what the minutes say about the core member.
    minute_taking = (
        await Meeting.select(
            Meeting.public_id,
            Meeting.starts_at,
            Meeting.minutes_status,
            Meeting.minutes_submitted_at,
            Meeting.minutes_approved_at,
            Meeting.circle._.code_name.as_alias("circle"),
        )
        .where(Meeting.minute_taker == volunteer_id)
        .order_by(Meeting.starts_at)
    )
    check_ins = (
        await CheckIn.select(
            CheckIn.public_id,
            CheckIn.happened_at,
            CheckIn.method,
            CheckIn.created_at,
            CheckIn.circle._.code_name.as_alias("circle"),
        )
        .where(CheckIn.volunteer == volunteer_id)
        .order_by(CheckIn.happened_at)
        .order_by(CheckIn.id)
    )
    account = await _account(user_id, [volunteer["email"]], settings)
    concerns, steps = await _concerns(user_id)
    co_volunteers, core_members = await _others_in_circles(circle_ids, volunteer_id)

    object_ids = {str(volunteer["public_id"]), *(str(row["public_id"]) for row in memberships + supervision)}
    if account["user"]:
        object_ids.add(str(account["user"][0]["public_id"]))
    trail = await audit_rows(object_ids=object_ids, actor=user_id)

    staff_ids: list[int | None] = [row["changed_by"] for row in history] + [row["coordinator"] for row in supervision]
    staff_ids += [row["invited_by"] for row in memberships] + [row["created_by"] for row in account["invitations"]]
    staff_ids += [row["actor"] for row in trail]
    people = People(await users_by_id(staff_ids), self_user=user_id, self_name=volunteer["display_name"])
    for name in co_volunteers:
        people.hide_name(name, i18n.gettext("another volunteer"))
    for name in core_members:
        people.hide_name(name, i18n.gettext("a core member"))

    known = object_ids | {str(row["public_id"]) for row in check_ins + concerns + minute_taking}
    known |= {str(row["meeting"]) for row in attendance} | {str(row["id"]) for row in account["feeds"]}
    parts = [
        _record_part(volunteer, people, await region_name(volunteer["region"])),
        _vetting_part(volunteer, settings, now),
        _history_part(history, people),
        _supervision_part(supervision, people),
        _memberships_part(memberships, people),
        _attendance_part(attendance),
        _minute_taking_part(minute_taking),
        _check_ins_part(check_ins),
        _concerns_part(concerns),
        _steps_part(steps),
        *_account_parts(account, people, await region_name(account["user"][0]["region"]) if account["user"] else ""),
        audit_part(trail, people, known, {}),
    ]
    return Export(
        kind="volunteer",
        subject_name=volunteer["display_name"],
        subject_id=str(volunteer["public_id"]),
        exported_at=now,
        exported_by=by.display_name,
        parts=parts,
        left_out=volunteer_left_out(),
    )


async def _concerns(user_id: int | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Concerns they raised, and the steps they added to any concern: when and how serious, not what."""
    if user_id is None:
        return [], []
    concerns = (
        await Concern.select(
            Concern.public_id,
            Concern.severity,
            Concern.state,
            Concern.seen_at,
            Concern.created_at,
            Concern.circle._.code_name.as_alias("circle"),
        )
        .where(Concern.raised_by == user_id)
        .order_by(Concern.created_at)
        .order_by(Concern.id)
    )
    steps = (
        await ConcernEvent.select(
            ConcernEvent.kind, ConcernEvent.at, ConcernEvent.concern._.public_id.as_alias("concern")
        )
        .where(ConcernEvent.by == user_id)
        .order_by(ConcernEvent.at)
        .order_by(ConcernEvent.id)
    )
    return concerns, steps


async def _others_in_circles(circle_ids: list[int], volunteer_id: int) -> tuple[list[str], list[str]]:
    """Names of the other volunteers and the core members of their circles: read only to take them out of
    free text (supervision notes can mention them), never exported."""
    if not circle_ids:
        return [], []
    volunteers = await CircleMembership.select(CircleMembership.volunteer._.display_name.as_alias("name")).where(
        CircleMembership.circle.is_in(circle_ids), CircleMembership.volunteer != volunteer_id
    )
    core_members = await Circle.select(
        Circle.core_member._.full_name.as_alias("full_name"), Circle.core_member._.known_as.as_alias("known_as")
    ).where(Circle.id.is_in(circle_ids))
    names = [row["full_name"] for row in core_members] + [row["known_as"] for row in core_members if row["known_as"]]
    return [row["name"] for row in volunteers], names


async def _account(user_id: int | None, emails: list[str], settings: Settings) -> dict[str, list[dict[str, Any]]]:
    """Their sign-in account and what hangs off it, without a single secret: no password hash, no
    second-factor secret, no session, invitation, recovery code or calendar token (hashed or not)."""
    account: dict[str, list[dict[str, Any]]] = {
        name: [] for name in ("user", "sessions", "recovery_codes", "invitations", "feeds")
    }
    user = None
    if user_id is not None:
        user = (
            await User.select(
                User.public_id,
                User.email,
                User.display_name,
                User.role,
                User.is_active,
                User.locale,
                User.region,
                User.created_at,
                User.activated_at,
                User.deactivated_at,
                User.password_changed_at,
                User.totp_enabled_at,
            )
            .where(User.id == user_id)
            .first()
        )
    if user_id is not None and user is not None:
        user["password_set"] = await User.exists().where(User.id == user_id, User.password_hash != "")
        emails = sorted({*emails, user["email"]})
        account["user"] = [user]
        account["sessions"] = (
            await UserSession.select(UserSession.created_at, UserSession.last_seen_at, UserSession.expires_at)
            .where(UserSession.user == user_id)
            .order_by(UserSession.created_at)
        )
        account["recovery_codes"] = (
            await RecoveryCode.select(RecoveryCode.created_at, RecoveryCode.used_at)
            .where(RecoveryCode.user == user_id)
            .order_by(RecoveryCode.created_at)
        )
        account["invitations"] = (
            await Invitation.select(
                Invitation.created_at, Invitation.expires_at, Invitation.used_at, Invitation.created_by
            )
            .where(Invitation.user == user_id)
            .order_by(Invitation.created_at)
        )
        account["feeds"] = (
            await CalendarFeed.select(CalendarFeed.id, CalendarFeed.created_at, CalendarFeed.revoked_at)
            .where(CalendarFeed.user == user_id)
            .order_by(CalendarFeed.created_at)
        )
    emails = [email for email in emails if email]  # retention may have cleared the address
    if not emails:
        return {**account, "failures": [], "emails": []}
    keys = [keyed_hash(settings, "account:" + email.strip().lower()) for email in emails]
    # Sign-in failures are counted under a keyed hash of the email typed (cosa/auth.py): found the same way.
    account["failures"] = await LoginThrottle.select(
        LoginThrottle.failures,
        LoginThrottle.first_failure_at,
        LoginThrottle.last_failure_at,
        LoginThrottle.locked_until,
    ).where(LoginThrottle.key.is_in(keys))
    # Emails sent to them: what and when, never the body (invitation emails carry a one-time link).
    account["emails"] = (
        await OutboxMessage.select(
            OutboxMessage.kind,
            OutboxMessage.subject,
            OutboxMessage.status,
            OutboxMessage.created_at,
            OutboxMessage.sent_at,
            OutboxMessage.attempts,
        )
        .where(OutboxMessage.recipient.is_in(emails))
        .order_by(OutboxMessage.created_at)
    )
    return account


def volunteer_left_out() -> list[str]:
    return [
        i18n.gettext(
            "What their check-ins, concerns and minutes say about a core member is that person's data: the export "
            "shows what they did and when, not what they wrote about someone else."
        ),
        i18n.gettext("Core members appear only as their circle's code name; other volunteers do not appear."),
        i18n.gettext(
            "Staff who recorded or changed something are named by their display name, never their contact details."
        ),
        i18n.gettext(
            "Names of other volunteers and of core members are replaced in free text, such as supervision notes."
        ),
        i18n.gettext(
            "Security data is never exported: the password, second-factor secret, recovery codes, sign-in tokens "
            "and calendar links. The export says only whether and when they exist."
        ),
    ]


def volunteer_contents() -> list[str]:
    return [
        i18n.gettext("Their profile, application, status history, vetting and training dates, and DBS."),
        i18n.gettext("Supervision sessions with the coordinator's notes."),
        i18n.gettext("Circle invitations and memberships, meetings they attended and minutes they took."),
        i18n.gettext("Check-ins they logged and concerns they raised (when and how, not what they said)."),
        i18n.gettext("Their sign-in account: sessions, calendar feeds, invitations and emails sent to them."),
        i18n.gettext("The audit trail of what they did in the app and who looked at or changed their records."),
    ]


def _record_part(volunteer: dict[str, Any], people: People, region: str) -> Part:
    row = {**volunteer, "region": region, "declared_connections": people.redact(volunteer["declared_connections"])}
    return Part(
        "volunteer",
        i18n.gettext("The record"),
        i18n.gettext("Their volunteer profile and application, as the programme holds it."),
        [
            Column("public_id", i18n.gettext("Reference")),
            Column("display_name", i18n.gettext("Name")),
            Column("email", i18n.gettext("Email address")),
            Column("phone", i18n.gettext("Phone number")),
            Column("region", i18n.gettext("Region")),
            Column("status", i18n.gettext("Status"), status_labels()),
            Column("status_changed_at", i18n.gettext("Status since")),
            Column("applied_on", i18n.gettext("Applied")),
            Column("left_reason", i18n.gettext("Why they left"), left_reason_choices()),
            Column("gender", i18n.gettext("Gender"), gender_choices()),
            Column("languages", i18n.gettext("Languages"), language_choices()),
            Column("home_district", i18n.gettext("Home postcode district")),
            Column("max_circles", i18n.gettext("Circles at once, at most")),
            Column("availability", i18n.gettext("Usually free"), slot_choices()),
            Column("declared_connections", i18n.gettext("Connections they have declared")),
            Column("declared_districts", i18n.gettext("Postcode districts of those connections")),
            Column("created_at", i18n.gettext("Record created")),
            Column("anonymised_at", i18n.gettext("Personal data removed")),
        ],
        [row],
        single=True,
    )


def _vetting_part(volunteer: dict[str, Any], settings: Settings, now: datetime) -> Part:
    labels = vetting_labels()
    expires, _state = services.dbs_state(
        volunteer["dbs_certificate_on"], int(settings.dbs_renewal_years), services.london_today(now)
    )
    columns = [Column(key, label) for key, label in labels.items()]
    columns.append(Column("dbs_renewal_due_on", i18n.gettext("DBS renewal due")))
    return Part(
        "vetting",
        i18n.gettext("Vetting, training and DBS"),
        i18n.gettext("The dates of their interview, references, enhanced DBS certificate and training."),
        columns,
        [{**volunteer, "dbs_renewal_due_on": expires}],
        single=True,
    )


def _history_part(history: list[dict[str, Any]], people: People) -> Part:
    statuses = status_labels()
    return Part(
        "status_history",
        i18n.gettext("Status history"),
        i18n.gettext("Every step through the pipeline, from application on."),
        [
            Column("from_status", i18n.gettext("From"), statuses),
            Column("to_status", i18n.gettext("To"), statuses),
            Column("reason", i18n.gettext("Reason"), left_reason_choices()),
            Column("changed_at", i18n.gettext("When")),
            Column("changed_by", i18n.gettext("By")),
        ],
        [{**row, "changed_by": people.user(row["changed_by"])} for row in history],
    )


def _supervision_part(sessions: list[dict[str, Any]], people: People) -> Part:
    return Part(
        "supervision",
        i18n.gettext("Supervision"),
        i18n.gettext("Supervision sessions with the coordinator, and the coordinator's notes."),
        [
            Column("public_id", i18n.gettext("Reference")),
            Column("held_on", i18n.gettext("Held")),
            Column("coordinator", i18n.gettext("Coordinator")),
            Column("notes", i18n.gettext("Notes")),
            Column("created_at", i18n.gettext("Recorded")),
        ],
        [
            {**row, "coordinator": people.user(row["coordinator"]), "notes": people.redact(row["notes"])}
            for row in sessions
        ],
    )


def _memberships_part(memberships: list[dict[str, Any]], people: People) -> Part:
    return Part(
        "circle_memberships",
        i18n.gettext("Circles"),
        i18n.gettext("Invitations to circles and how they answered. Circles are shown by their code name."),
        [
            Column("public_id", i18n.gettext("Reference")),
            Column("circle", i18n.gettext("Circle")),
            Column("status", i18n.gettext("Status"), membership_labels()),
            Column("invited_at", i18n.gettext("Invited")),
            Column("invited_by", i18n.gettext("Invited by")),
            Column("responded_at", i18n.gettext("Answered")),
            Column("left_at", i18n.gettext("Left")),
        ],
        [{**row, "circle": row["code_name"], "invited_by": people.user(row["invited_by"])} for row in memberships],
    )


def _attendance_part(attendance: list[dict[str, Any]]) -> Part:
    return Part(
        "attendance",
        i18n.gettext("Meetings attended"),
        i18n.gettext("Their attendance at circle meetings."),
        [
            Column("meeting", i18n.gettext("Meeting")),
            Column("circle", i18n.gettext("Circle")),
            Column("starts_at", i18n.gettext("Meeting time")),
            Column("status", i18n.gettext("Attendance"), attendance_labels()),
        ],
        attendance,
    )


def _minute_taking_part(meetings: list[dict[str, Any]]) -> Part:
    return Part(
        "minute_taking",
        i18n.gettext("Minutes they took"),
        i18n.gettext("Meetings they were minute taker for (the minutes themselves are about the core member)."),
        [
            Column("public_id", i18n.gettext("Meeting")),
            Column("circle", i18n.gettext("Circle")),
            Column("starts_at", i18n.gettext("Meeting time")),
            Column("minutes_status", i18n.gettext("Minutes"), minutes_labels()),
            Column("minutes_submitted_at", i18n.gettext("Sent for review")),
            Column("minutes_approved_at", i18n.gettext("Approved")),
        ],
        meetings,
    )


def _check_ins_part(check_ins: list[dict[str, Any]]) -> Part:
    return Part(
        "check_ins",
        i18n.gettext("Check-ins logged"),
        i18n.gettext("Contact with a core member they recorded: when and how."),
        [
            Column("public_id", i18n.gettext("Reference")),
            Column("circle", i18n.gettext("Circle")),
            Column("happened_at", i18n.gettext("When")),
            Column("method", i18n.gettext("How"), method_labels()),
            Column("created_at", i18n.gettext("Recorded")),
        ],
        check_ins,
    )


def _concerns_part(concerns: list[dict[str, Any]]) -> Part:
    return Part(
        "concerns_raised",
        i18n.gettext("Concerns raised"),
        i18n.gettext("Concerns they raised: when, how serious, and where each is now."),
        [
            Column("public_id", i18n.gettext("Reference")),
            Column("circle", i18n.gettext("Circle")),
            Column("severity", i18n.gettext("How serious"), severity_labels()),
            Column("state", i18n.gettext("Where it is"), state_labels()),
            Column("seen_at", i18n.gettext("Seen")),
            Column("created_at", i18n.gettext("Raised")),
        ],
        concerns,
    )


def _steps_part(steps: list[dict[str, Any]]) -> Part:
    return Part(
        "concern_steps",
        i18n.gettext("Steps they added to concerns"),
        i18n.gettext("Each time they raised or added to a concern."),
        [
            Column("concern", i18n.gettext("Concern")),
            Column("kind", i18n.gettext("Step")),
            Column("at", i18n.gettext("When")),
        ],
        steps,
    )


def _account_parts(account: dict[str, list[dict[str, Any]]], people: People, region: str) -> list[Part]:
    user_rows = [{**row, "region": region} for row in account["user"]]
    return [
        Part(
            "account",
            i18n.gettext("Sign-in account"),
            i18n.gettext("Their account, if they have one. Whether a password is set, never the password."),
            [
                Column("public_id", i18n.gettext("Reference")),
                Column("email", i18n.gettext("Sign-in email address")),
                Column("display_name", i18n.gettext("Name")),
                Column("role", i18n.gettext("Role")),
                Column("region", i18n.gettext("Region")),
                Column("locale", i18n.gettext("Language")),
                Column("is_active", i18n.gettext("Can sign in")),
                Column("password_set", i18n.gettext("Password set")),
                Column("password_changed_at", i18n.gettext("Password last changed")),
                Column("totp_enabled_at", i18n.gettext("Second factor turned on")),
                Column("created_at", i18n.gettext("Created")),
                Column("activated_at", i18n.gettext("First signed in")),
                Column("deactivated_at", i18n.gettext("Closed")),
            ],
            user_rows,
            single=True,
        ),
        Part(
            "sessions",
            i18n.gettext("Signed-in sessions"),
            i18n.gettext("Sessions that are still recorded (the session keys themselves are never exported)."),
            [
                Column("created_at", i18n.gettext("Signed in")),
                Column("last_seen_at", i18n.gettext("Last active")),
                Column("expires_at", i18n.gettext("Ends")),
            ],
            account["sessions"],
        ),
        Part(
            "recovery_codes",
            i18n.gettext("Recovery codes"),
            i18n.gettext("When their second-factor recovery codes were made and used (never the codes)."),
            [Column("created_at", i18n.gettext("Made")), Column("used_at", i18n.gettext("Used"))],
            account["recovery_codes"],
        ),
        Part(
            "account_invitations",
            i18n.gettext("Account invitations"),
            i18n.gettext("Links sent to set a password (never the links)."),
            [
                Column("created_at", i18n.gettext("Sent")),
                Column("created_by", i18n.gettext("Sent by")),
                Column("expires_at", i18n.gettext("Expires")),
                Column("used_at", i18n.gettext("Used")),
            ],
            [{**row, "created_by": people.user(row["created_by"])} for row in account["invitations"]],
        ),
        Part(
            "calendar_feeds",
            i18n.gettext("Calendar feeds"),
            i18n.gettext("Private calendar links they made and stopped (never the links)."),
            [
                Column("id", i18n.gettext("Reference")),
                Column("created_at", i18n.gettext("Made")),
                Column("revoked_at", i18n.gettext("Stopped")),
            ],
            account["feeds"],
        ),
        Part(
            "sign_in_failures",
            i18n.gettext("Failed sign-in attempts"),
            i18n.gettext("The running count of recent failed sign-ins to their account, if any."),
            [
                Column("failures", i18n.gettext("Failures")),
                Column("first_failure_at", i18n.gettext("First")),
                Column("last_failure_at", i18n.gettext("Latest")),
                Column("locked_until", i18n.gettext("Locked until")),
            ],
            account["failures"],
        ),
        Part(
            "emails",
            i18n.gettext("Emails sent to them"),
            i18n.gettext("What kind of email and when (the text is not kept in the export)."),
            [
                Column("kind", i18n.gettext("Kind")),
                Column("subject", i18n.gettext("Subject")),
                Column("status", i18n.gettext("Delivery")),
                Column("created_at", i18n.gettext("Written")),
                Column("sent_at", i18n.gettext("Sent")),
                Column("attempts", i18n.gettext("Attempts")),
            ],
            account["emails"],
        ),
    ]


# --- routes --------------------------------------------------------------------------------------------


class VolunteerExportController(Controller):
    """Coordinators only (need to know: administrators run accounts, not volunteers' files), own region only."""

    path = "/volunteers"
    guards = [roles(Role.coordinator)]

    async def _volunteer(self, request: Req, public_id: UUID) -> dict[str, Any]:
        region = request.scope["user"].region
        if region is None:  # a coordinator not yet given a region reaches no volunteers at all
            await deny(request, "volunteer", public_id)
        volunteer = await services.find_volunteer(int(region), public_id)
        return await found_or_deny(request, volunteer, "volunteer", public_id)

    @get("/{public_id:uuid}/export", name="volunteers:export")
    async def confirm(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        volunteer = await self._volunteer(request, public_id)
        return confirm_page(
            request,
            name=volunteer["display_name"],
            contents=volunteer_contents(),
            left_out=volunteer_left_out(),
            back=request.app.route_reverse("volunteers:detail", public_id=public_id),
            action=request.app.route_reverse("volunteers:export_download", public_id=public_id),
        )

    @post("/{public_id:uuid}/export", name="volunteers:export_download")
    async def download(self, request: Req, public_id: FromPath[UUID]) -> Response[bytes]:
        volunteer = await self._volunteer(request, public_id)
        user, now = request.scope["user"], utcnow()
        export = await volunteer_export(volunteer, by=user, settings=request.app.state.settings, now=now)
        body = build_zip(request.app.state.jinja, export)
        await audit.record(
            Action.VOLUNTEER_EXPORTED,
            actor=user,
            object_type="volunteer",
            object_id=public_id,
            detail=export.counts(),
            now=now,
        )
        return download(export, body)
