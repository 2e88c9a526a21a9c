"""Subject access (SECURITY.md 17): everything held about one core member, and nothing about anyone else.

A coordinator downloads a ZIP of the person's data: single records as JSON, lists as CSV (one file per
table that refers to them), a manifest, and `summary.html`, a page that reads without the app or the web.
The builder here is shared with the volunteer export (volunteers/subject_access.py).

Who else appears, and how:
- Staff who acted (coordinators, probation officers, administrators) are named by display name only: they
  act for the programme, and the person is entitled to know who handled their data. Never their email.
- Volunteers are "Volunteer 1", "Volunteer 2"... (numbered within one export, so the rows still read as a
  story); in a volunteer's own export, other volunteers are "Another volunteer".
- Outer-circle professionals appear by organisation and role, never by name or contact details.
- Names of those volunteers (and, in a volunteer's export, of core members) found in free text are replaced
  by their label in brackets. Free text can still mention other people in ways no program can spot: the
  confirmation page and the summary ask the coordinator to read it before sending it on.
- Identifiers of rows outside the export (in audit rows) are replaced by "withheld".
Secrets are never selected: no password or token hashes, no second-factor secrets, no calendar tokens.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

from jinja2 import Environment
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from circles.check_ins import method_labels, wellbeing_labels
from circles.circle_pages import membership_labels
from circles.circle_services import circle_state_labels
from circles.concerns import action_labels, severity_labels, state_labels
from circles.core_member_pages import connection_kind_labels, need_area_labels, need_status_labels
from circles.forms import cohort_choices, decision_choices, preference_choices
from circles.indicators import labels_for
from circles.meeting_pages import attendance_labels, frequency_labels, minutes_labels
from circles.services import core_member_or_404
from circles.tables import (
    Attendance,
    CalendarFeed,
    CaseNote,
    CheckIn,
    Circle,
    CircleMembership,
    CircleTransition,
    Concern,
    ConcernEvent,
    Escalation,
    Meeting,
    MeetingSeries,
    MembershipStatus,
    NeedChange,
    OuterCircleMember,
    RiskConnection,
)
from cosa import audit, i18n
from cosa.audit import Action
from cosa.auth import roles
from cosa.choices import gender_choices, weekday_choices
from cosa.clock import utcnow
from cosa.languages import language_choices
from cosa.tables import STAFF_ROLES, AuditEvent, Region, Role, User
from cosa.web import render
from volunteers.tables import Volunteer

Req = Request[Any, Any, Any]
ID_CHUNK = 500  # identifiers per IN (...) list: far below SQLite's and PostgreSQL's limits
WITHHELD = "withheld"
_UUID_TEXT = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --- the shape of an export ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str  # the CSV header and JSON key, stable across languages
    label: str  # what the summary page shows
    choices: Mapping[str, str] | None = None  # labels for stored codes, for the summary page


@dataclass
class Part:
    """One file of the export: a list of rows (CSV) or, when `single`, one record (JSON)."""

    name: str
    title: str
    description: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    single: bool = False

    @property
    def filename(self) -> str:
        return f"{self.name}.json" if self.single else f"{self.name}.csv"


@dataclass
class Export:
    kind: str  # "core_member" or "volunteer"
    subject_name: str
    subject_id: str
    exported_at: datetime
    exported_by: str
    parts: list[Part]
    left_out: list[str] = field(default_factory=list)  # what was withheld or labelled, and why

    @property
    def filename(self) -> str:
        # The public id, never a name: file names end up in download folders, mail and logs.
        return f"subject-access-{self.kind.replace('_', '-')}-{self.subject_id}.zip"

    def counts(self) -> dict[str, Any]:
        """For the audit row: how much went out, never what."""
        return {"files": len(self.parts) + 2, "rows": sum(len(part.rows) for part in self.parts)}


# --- other people: named staff, numbered volunteers, and their names taken out of free text ------------


class People:
    """How other people appear in one export."""

    def __init__(self, users: Iterable[Mapping[str, Any]], *, self_user: int | None = None, self_name: str = ""):
        self.users = {row["id"]: row for row in users}
        self.self_user = self_user
        self.self_name = self_name
        self.volunteer_labels: dict[int, str] = {}
        self.user_labels: dict[int, str] = {}
        self._names: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def number_volunteer(self, volunteer: Mapping[str, Any]) -> None:
        """Give a volunteer of the circle the next number, and take their name out of free text."""
        if volunteer["id"] in self.volunteer_labels:
            return
        label = i18n.gettext("Volunteer %(number)s", number=len(self.volunteer_labels) + 1)
        self.volunteer_labels[volunteer["id"]] = label
        if volunteer["user"] is not None:
            self.user_labels[volunteer["user"]] = label
        self.hide_name(volunteer["display_name"], label)

    def hide_name(self, name: str, label: str) -> None:
        """Replace this name, and each of its words of three letters or more, wherever free text has it."""
        words = [name.strip(), *(word for word in re.split(r"[\s,]+", name) if len(word) >= 3)]
        for word in words:
            key = word.casefold()
            if len(key) < 2:
                continue
            # A word two people share (a first name) cannot say whose it is: it gets a neutral label.
            self._names[key] = label if self._names.get(key, label) == label else i18n.gettext("name withheld")
        self._pattern = None

    def redact(self, text: str) -> str:
        if not text or not self._names:
            return text
        if self._pattern is None:
            alternatives = sorted(self._names, key=len, reverse=True)
            self._pattern = re.compile(
                r"(?<!\w)(" + "|".join(re.escape(word) for word in alternatives) + r")(?!\w)", re.IGNORECASE
            )
        return self._pattern.sub(lambda match: f"[{self._names[match.group(0).casefold()]}]", text)

    def volunteer(self, volunteer_id: int | None) -> str:
        if volunteer_id is None:
            return ""
        return self.volunteer_labels.get(volunteer_id, i18n.gettext("Another volunteer"))

    def user(self, user_id: int | None) -> str:
        """Who acted: the subject by name, staff by display name, volunteers by their label."""
        if user_id is None:
            return ""
        if user_id == self.self_user:
            return self.self_name
        if user_id in self.user_labels:
            return self.user_labels[user_id]
        row = self.users.get(user_id)
        if row is not None and row["role"] in {role.value for role in STAFF_ROLES}:
            return str(row["display_name"])
        return i18n.gettext("Another volunteer") if row is not None else i18n.gettext("An account since removed")


async def users_by_id(ids: Iterable[int | None]) -> list[dict[str, Any]]:
    """Display name and role of these users (one query per ID_CHUNK); never anything else of theirs."""
    wanted = sorted({i for i in ids if i is not None})
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(wanted):
        rows += await User.select(User.id, User.display_name, User.role).where(User.id.is_in(chunk))
    return rows


async def region_name(region_id: int | None) -> str:
    if region_id is None:
        return ""
    row = await Region.select(Region.name).where(Region.id == region_id).first()
    return str(row["name"]) if row else ""


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), ID_CHUNK):
        yield values[start : start + ID_CHUNK]


# --- the audit trail, as far as it concerns the subject -------------------------------------------------


async def audit_rows(*, object_ids: Iterable[str], actor: int | None = None) -> list[dict[str, Any]]:
    """Audit rows about these objects (and, given an actor, every row that user wrote), oldest first."""
    wanted = sorted(set(object_ids))
    select = (AuditEvent.occurred_at, AuditEvent.seq, AuditEvent.actor, AuditEvent.actor_role, AuditEvent.action)
    columns = (*select, AuditEvent.object_type, AuditEvent.object_id, AuditEvent.detail)
    found: dict[int, dict[str, Any]] = {}
    for chunk in _chunks(wanted):
        for row in (
            await AuditEvent.select(AuditEvent.id, *columns)
            .where(AuditEvent.object_id.is_in(chunk))
            .output(load_json=True)
        ):
            found[row["id"]] = row
    if actor is not None:
        for row in (
            await AuditEvent.select(AuditEvent.id, *columns).where(AuditEvent.actor == actor).output(load_json=True)
        ):
            found[row["id"]] = row
    return sorted(found.values(), key=lambda row: (row["occurred_at"], row["seq"] or 0, row["id"]))


def scrub(value: Any, known: set[str], aliases: Mapping[str, str]) -> Any:
    """An audit detail with identifiers of rows outside the export replaced (or named by their label)."""
    if isinstance(value, dict):
        return {key: scrub(item, known, aliases) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, known, aliases) for item in value]
    if isinstance(value, str) and _UUID_TEXT.match(value) and value not in known:
        return aliases.get(value, WITHHELD)
    return value


def audit_part(rows: list[dict[str, Any]], people: People, known: set[str], aliases: Mapping[str, str]) -> Part:
    out = []
    for row in rows:
        object_id = row["object_id"] or ""
        if object_id and object_id not in known and row["object_type"] != "route":
            object_id = aliases.get(object_id, WITHHELD)
        detail = row["detail"] if isinstance(row["detail"], dict) else {}
        out.append(
            {
                "occurred_at": row["occurred_at"],
                "who": people.user(row["actor"]) if row["actor"] is not None else i18n.gettext("The system"),
                "who_role": row["actor_role"],
                "action": row["action"],
                "object_type": row["object_type"],
                "object_id": object_id,
                "detail": scrub(detail, known, aliases),
            }
        )
    return Part(
        "audit",
        i18n.gettext("Audit trail"),
        i18n.gettext("Who looked at or changed these records, and when. The audit trail never holds content."),
        [
            Column("occurred_at", i18n.gettext("When")),
            Column("who", i18n.gettext("Who")),
            Column("who_role", i18n.gettext("Their role")),
            Column("action", i18n.gettext("What")),
            Column("object_type", i18n.gettext("Kind of record")),
            Column("object_id", i18n.gettext("Record")),
            Column("detail", i18n.gettext("Details")),
        ],
        out,
    )


# --- writing the ZIP -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A value as JSON holds it: times in UTC ISO 8601, identifiers as text."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _csv_cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        text = "; ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def part_csv(part: Part) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.key for column in part.columns])
    for row in part.rows:
        writer.writerow([_csv_cell(row.get(column.key)) for column in part.columns])
    # With a byte order mark, spreadsheet programs read the file as UTF-8 (Welsh and other names intact).
    return buffer.getvalue().encode("utf-8-sig")


def part_json(part: Part) -> bytes:
    record = part.rows[0] if part.rows else {}
    data = {column.key: _plain(record.get(column.key)) for column in part.columns} if record else {}
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def _shown(column: Column, value: Any) -> str:
    """A value as the summary page shows it, in the reader's language and time zone."""
    if isinstance(value, str) and column.choices and value in column.choices:
        return column.choices[value]  # including "" where it means something ("No decision yet")
    if value is None or value == "" or value == []:
        return ""
    if isinstance(value, bool):
        return i18n.gettext("Yes") if value else i18n.gettext("No")
    if isinstance(value, datetime):
        return i18n.format_datetime(value)
    if isinstance(value, date):
        return i18n.format_date(value)
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, list):
        return ", ".join(_shown(column, item) for item in value)
    if isinstance(value, dict):
        return json.dumps(_plain(value), ensure_ascii=False, sort_keys=True)
    text = str(value)
    return column.choices.get(text, text) if column.choices else text


def summary_html(env: Environment, export: Export) -> str:
    sections = []
    for part in export.parts:
        rows = [[_shown(column, row.get(column.key)) for column in part.columns] for row in part.rows]
        sections.append(
            {
                "id": part.name.replace("_", "-"),
                "title": part.title,
                "description": part.description,
                "filename": part.filename,
                "single": part.single,
                "headers": [column.label for column in part.columns],
                "rows": rows,
            }
        )
    return env.get_template("export/summary.html").render(
        export=export, sections=sections, lang=i18n.html_lang(), exported_at=i18n.format_datetime(export.exported_at)
    )


def manifest(export: Export) -> bytes:
    data = {
        "subject_type": export.kind,
        "subject_id": export.subject_id,
        "exported_at": _plain(export.exported_at),
        "files": [{"file": part.filename, "title": part.title, "rows": len(part.rows)} for part in export.parts],
        "left_out": export.left_out,
    }
    return json.dumps(data, ensure_ascii=False, indent=2).encode()


def build_zip(env: Environment, export: Export) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summary.html", summary_html(env, export).encode())
        archive.writestr("manifest.json", manifest(export))
        for part in export.parts:
            archive.writestr(part.filename, part_json(part) if part.single else part_csv(part))
    return buffer.getvalue()


def download(export: Export, body: bytes) -> Response[bytes]:
    return Response(
        content=body,
        status_code=200,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )


# --- the core member's export --------------------------------------------------------------------------


def _by_circle(rows: list[dict[str, Any]], code_names: Mapping[int, str]) -> list[dict[str, Any]]:
    for row in rows:
        row["circle"] = code_names.get(row["circle"], "")
    return rows


async def core_member_export(core_member: dict[str, Any], *, by: Any, now: datetime) -> Export:
    """Everything held about one core member, with other people labelled. A fixed number of queries
    (plus one per 500 identifiers), whatever the size of the record."""
    cm_id = core_member["id"]
    needs = (
        await NeedChange.select()
        .where(NeedChange.core_member == cm_id)
        .order_by(NeedChange.changed_on)
        .order_by(NeedChange.id)
    )
    connections = (
        await RiskConnection.select()
        .where(RiskConnection.core_member == cm_id)
        .order_by(RiskConnection.id)
        .output(load_json=True)
    )
    notes = (
        await CaseNote.select().where(CaseNote.core_member == cm_id).order_by(CaseNote.created_at).order_by(CaseNote.id)
    )
    circles = await Circle.select().where(Circle.core_member == cm_id).order_by(Circle.created_at).order_by(Circle.id)
    circle_ids = [row["id"] for row in circles]
    code_names = {row["id"]: row["code_name"] for row in circles}
    rows = await _circle_rows(circle_ids) if circle_ids else {name: [] for name in _CIRCLE_TABLES}
    meeting_ids = {row["id"]: row["public_id"] for row in rows["meetings"]}

    volunteer_ids = [row["volunteer"] for row in rows["memberships"]]
    volunteer_ids += [row["volunteer"] for row in rows["check_ins"] + rows["attendance"] if row["volunteer"]]
    volunteer_ids += [row["minute_taker"] for row in rows["meetings"] if row["minute_taker"]]
    volunteers = await _volunteers(volunteer_ids)
    by_id = {row["id"]: row for row in volunteers}

    audit_ids = {str(core_member["public_id"])}
    for name in ("meetings", "check_ins", "concerns", "escalations", "memberships"):
        audit_ids |= {str(row["public_id"]) for row in rows[name]}
    audit_ids |= {str(row["public_id"]) for row in circles}
    trail = await audit_rows(object_ids=audit_ids)

    user_ids: list[int | None] = [core_member["probation_officer"], core_member["referred_by"]]
    user_ids += [row["changed_by"] for row in needs] + [row["created_by"] for row in connections + notes]
    user_ids += [row["coordinator"] for row in circles] + [row["by"] for row in rows["transitions"]]
    user_ids += [row["invited_by"] for row in rows["memberships"]] + [row["created_by"] for row in rows["series"]]
    user_ids += [row["minutes_approved_by"] for row in rows["meetings"]] + [
        row["raised_by"] for row in rows["concerns"]
    ]
    user_ids += [row["by"] for row in rows["events"]] + [row["actor"] for row in trail]
    user_ids += [row["officer"] for row in rows["escalations"]] + [
        row["acknowledged_by"] for row in rows["escalations"]
    ]
    people = People(await users_by_id(user_ids))
    for volunteer_id in dict.fromkeys(volunteer_ids):
        if volunteer_id in by_id:
            people.number_volunteer(by_id[volunteer_id])
    for row in rows["outer"]:
        people.hide_name(row.pop("name"), i18n.gettext("outer circle member"))

    indicator_codes = [code for row in rows["check_ins"] + rows["concerns"] for code in row["indicators"] or []]
    indicator_labels = await labels_for(indicator_codes) if indicator_codes else {}
    live_feeds = await _live_feeds(circles, rows["memberships"], by_id)
    aliases = {str(row["public_id"]): people.volunteer(row["volunteer"]) for row in rows["memberships"]}
    known = audit_ids - set(aliases)

    parts = [
        _record_part(core_member, people, await region_name(core_member["region"])),
        _nrm_part(core_member),
        _needs_part(needs, people),
        _connections_part(connections, people),
        _notes_part(notes, people),
        _circles_part(circles, people),
        *_circle_parts(rows, people, code_names, meeting_ids, indicator_labels),
        Part(
            "calendar_feeds",
            i18n.gettext("Calendar feeds"),
            i18n.gettext(
                "Core members have no account, so no calendar feed of their own. Their circles' meetings appear, "
                "under the circle's code name only, in the private calendar feeds of its volunteers and "
                "coordinator: this is how many such feeds work now."
            ),
            [Column("live_feeds_with_these_meetings", i18n.gettext("Calendar feeds showing these meetings"))],
            [{"live_feeds_with_these_meetings": live_feeds}],
            single=True,
        ),
        audit_part(trail, people, known, aliases),
    ]
    return Export(
        kind="core_member",
        subject_name=core_member["full_name"],
        subject_id=str(core_member["public_id"]),
        exported_at=now,
        exported_by=by.display_name,
        parts=parts,
        left_out=core_member_left_out(),
    )


_CIRCLE_TABLES = (
    "transitions",
    "memberships",
    "outer",
    "series",
    "meetings",
    "attendance",
    "check_ins",
    "concerns",
    "events",
    "escalations",
)


async def _circle_rows(circle_ids: list[int]) -> dict[str, list[dict[str, Any]]]:
    """Every row of these circles, one query per table (a core member has a handful of circles)."""
    in_circles = circle_ids
    check_in_columns = [c for c in CheckIn.all_columns() if c._meta.name != "idempotency_key"]
    return {
        "transitions": await CircleTransition.select()
        .where(CircleTransition.circle.is_in(in_circles))
        .order_by(CircleTransition.at)
        .order_by(CircleTransition.id),
        "memberships": await CircleMembership.select()
        .where(CircleMembership.circle.is_in(in_circles))
        .order_by(CircleMembership.invited_at)
        .order_by(CircleMembership.id),
        # Outer-circle professionals: their name is read only to take it out of free text.
        "outer": await OuterCircleMember.select(
            OuterCircleMember.circle, OuterCircleMember.name, OuterCircleMember.organisation, OuterCircleMember.role
        )
        .where(OuterCircleMember.circle.is_in(in_circles))
        .order_by(OuterCircleMember.id),
        "series": await MeetingSeries.select().where(MeetingSeries.circle.is_in(in_circles)).order_by(MeetingSeries.id),
        "meetings": await Meeting.select()
        .where(Meeting.circle.is_in(in_circles))
        .order_by(Meeting.starts_at)
        .order_by(Meeting.id),
        "attendance": await Attendance.select(Attendance.meeting, Attendance.volunteer, Attendance.status)
        .where(Attendance.meeting._.circle.is_in(in_circles))
        .order_by(Attendance.id),
        "check_ins": await CheckIn.select(*check_in_columns)
        .where(CheckIn.circle.is_in(in_circles))
        .order_by(CheckIn.happened_at)
        .order_by(CheckIn.id)
        .output(load_json=True),
        "concerns": await Concern.select()
        .where(Concern.circle.is_in(in_circles))
        .order_by(Concern.created_at)
        .order_by(Concern.id)
        .output(load_json=True),
        "events": await ConcernEvent.select()
        .where(ConcernEvent.concern._.circle.is_in(in_circles))
        .order_by(ConcernEvent.at)
        .order_by(ConcernEvent.id)
        .output(load_json=True),
        "escalations": await Escalation.select()
        .where(Escalation.concern._.circle.is_in(in_circles))
        .order_by(Escalation.created_at)
        .order_by(Escalation.id),
    }


async def _volunteers(ids: list[int]) -> list[dict[str, Any]]:
    """Volunteers named in these rows: their names are read only to take them out of free text."""
    wanted = sorted(set(ids))
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(wanted):
        rows += await Volunteer.select(Volunteer.id, Volunteer.user, Volunteer.display_name).where(
            Volunteer.id.is_in(chunk)
        )
    return rows


async def _live_feeds(
    circles: list[dict[str, Any]], memberships: list[dict[str, Any]], volunteers: Mapping[int, dict[str, Any]]
) -> int:
    """How many working calendar feeds carry these circles' meetings (calendar.py's rule: accepted
    volunteers and the circle's coordinator). A count only: whose feeds they are is not the subject's."""
    owners = {row["coordinator"] for row in circles if row["coordinator"]}
    for row in memberships:
        if row["status"] == MembershipStatus.accepted.value and row["volunteer"] in volunteers:
            owners.add(volunteers[row["volunteer"]]["user"])
    owners.discard(None)
    if not owners:
        return 0
    return int(
        await CalendarFeed.count().where(
            CalendarFeed.user.is_in(sorted(owners)),
            CalendarFeed.revoked_at.is_null(),
            CalendarFeed.user._.is_active.eq(True),
        )
    )


def core_member_left_out() -> list[str]:
    return [
        i18n.gettext(
            "Volunteers are shown as ‘Volunteer 1’, ‘Volunteer 2’ and so on; their names are replaced the same "
            "way in free text."
        ),
        i18n.gettext(
            "Staff who recorded or changed something are named by their display name, never their contact details."
        ),
        i18n.gettext("Outer circle professionals are shown by organisation and role only."),
        i18n.gettext("Other core members, and other volunteers' own records, are not part of this export."),
        i18n.gettext("Security data is never exported: passwords, sign-in tokens and calendar links."),
    ]


def _record_part(core_member: dict[str, Any], people: People, region: str) -> Part:
    languages = language_choices()
    row = {
        **core_member,
        "probation_officer": people.user(core_member["probation_officer"]),
        "referred_by": people.user(core_member["referred_by"]),
        "region": region,
        "order_conditions": people.redact(core_member["order_conditions"]),
        "offence_details": people.redact(core_member["offence_details"]),
    }
    columns = [
        Column("public_id", i18n.gettext("Reference")),
        Column("full_name", i18n.gettext("Full name")),
        Column("known_as", i18n.gettext("Known as")),
        Column("cohort", i18n.gettext("Group"), cohort_choices()),
        Column("gender", i18n.gettext("Gender"), gender_choices()),
        Column("pronouns", i18n.gettext("Pronouns")),
        Column("volunteer_gender_preference", i18n.gettext("Volunteers preferred"), preference_choices()),
        Column("languages", i18n.gettext("Languages"), languages),
        Column("address_district", i18n.gettext("Address district")),
        Column("region", i18n.gettext("Region")),
        Column("referred_on", i18n.gettext("Referred")),
        Column("referred_by", i18n.gettext("Referred by")),
        Column("release_on", i18n.gettext("Release date")),
        Column("licence_ends_on", i18n.gettext("Licence ends")),
        Column("order_conditions", i18n.gettext("Order conditions")),
        Column("order_ends_on", i18n.gettext("Order ends")),
        Column("offence_details", i18n.gettext("Offence details")),
        Column("probation_officer", i18n.gettext("Probation officer")),
        Column("created_at", i18n.gettext("Record created")),
        Column("updated_at", i18n.gettext("Record last changed")),
        Column("anonymised_at", i18n.gettext("Personal data removed")),
    ]
    return Part(
        "core_member",
        i18n.gettext("The record"),
        i18n.gettext("The core member's record, as the programme holds it."),
        columns,
        [row],
        single=True,
    )


def _nrm_part(core_member: dict[str, Any]) -> Part:
    decisions = decision_choices()
    return Part(
        "nrm",
        i18n.gettext("National Referral Mechanism"),
        i18n.gettext("Their NRM referral and decisions."),
        [
            Column("nrm_referred_on", i18n.gettext("Referred into the NRM")),
            Column("nrm_reasonable_grounds", i18n.gettext("Reasonable grounds decision"), decisions),
            Column("nrm_reasonable_grounds_on", i18n.gettext("Reasonable grounds decision date")),
            Column("nrm_conclusive_grounds", i18n.gettext("Conclusive grounds decision"), decisions),
            Column("nrm_conclusive_grounds_on", i18n.gettext("Conclusive grounds decision date")),
            Column("public_order_disqualification", i18n.gettext("Public Order Disqualification")),
        ],
        [core_member],
        single=True,
    )


def _needs_part(needs: list[dict[str, Any]], people: People) -> Part:
    return Part(
        "needs",
        i18n.gettext("Needs"),
        i18n.gettext("Every change of each need's status, oldest first."),
        [
            Column("area", i18n.gettext("Need"), need_area_labels()),
            Column("status", i18n.gettext("Status"), need_status_labels()),
            Column("changed_on", i18n.gettext("From")),
            Column("changed_at", i18n.gettext("Recorded")),
            Column("changed_by", i18n.gettext("Recorded by")),
        ],
        [{**row, "changed_by": people.user(row["changed_by"])} for row in needs],
    )


def _connections_part(connections: list[dict[str, Any]], people: People) -> Part:
    return Part(
        "risk_connections",
        i18n.gettext("Risk connections"),
        i18n.gettext("People, places and communities linked to their exploitation or offending."),
        [
            Column("public_id", i18n.gettext("Reference")),
            Column("kind", i18n.gettext("Kind"), connection_kind_labels()),
            Column("description", i18n.gettext("Description")),
            Column("districts", i18n.gettext("Postcode districts")),
            Column("cuckooing", i18n.gettext("Address known for cuckooing")),
            Column("created_at", i18n.gettext("Recorded")),
            Column("created_by", i18n.gettext("Recorded by")),
        ],
        [
            {**row, "description": people.redact(row["description"]), "created_by": people.user(row["created_by"])}
            for row in connections
        ],
    )


def _notes_part(notes: list[dict[str, Any]], people: People) -> Part:
    return Part(
        "case_notes",
        i18n.gettext("Case notes"),
        i18n.gettext("Coordinators' notes, and whether each was shared with the circle's volunteers."),
        [
            Column("public_id", i18n.gettext("Reference")),
            Column("created_at", i18n.gettext("Written")),
            Column("created_by", i18n.gettext("Written by")),
            Column("shared_with_circle", i18n.gettext("Shared with the circle")),
            Column("body", i18n.gettext("Note")),
        ],
        [{**row, "body": people.redact(row["body"]), "created_by": people.user(row["created_by"])} for row in notes],
    )


def _circles_part(circles: list[dict[str, Any]], people: People) -> Part:
    states = circle_state_labels()
    rows = [
        {
            **row,
            "coordinator": people.user(row["coordinator"]),
            "meeting_weekday": "" if row["meeting_weekday"] is None else str(row["meeting_weekday"]),
            "covenant_text": people.redact(row["covenant_text"]),
            "termination_reason": people.redact(row["termination_reason"]),
        }
        for row in circles
    ]
    return Part(
        "circles",
        i18n.gettext("Circles"),
        i18n.gettext("Their circles of support and accountability, with the covenant."),
        [
            Column("public_id", i18n.gettext("Reference")),
            Column("code_name", i18n.gettext("Code name")),
            Column("state", i18n.gettext("Stage"), states),
            Column("state_changed_at", i18n.gettext("Stage since")),
            Column("state_before_pause", i18n.gettext("Stage before the pause"), states),
            Column("coordinator", i18n.gettext("Coordinator")),
            Column("meeting_weekday", i18n.gettext("Meeting day"), weekday_choices()),
            Column("meeting_time", i18n.gettext("Meeting time")),
            Column("venue", i18n.gettext("Venue")),
            Column("venue_district", i18n.gettext("Venue district")),
            Column("check_in_every_days", i18n.gettext("Check-in every (days)")),
            Column("covenant_version", i18n.gettext("Covenant version")),
            Column("covenant_signed_on", i18n.gettext("Covenant signed")),
            Column("covenant_text", i18n.gettext("Covenant")),
            Column("termination_reason", i18n.gettext("Why it ended early")),
            Column("created_at", i18n.gettext("Opened")),
        ],
        rows,
    )


def _circle_parts(
    rows: dict[str, list[dict[str, Any]]],
    people: People,
    code_names: Mapping[int, str],
    meeting_ids: Mapping[int, Any],
    indicator_labels: Mapping[str, str],
) -> list[Part]:
    states = circle_state_labels()
    meetings_at = {row["id"]: row["starts_at"] for row in rows["meetings"]}
    check_in_ids = {row["id"]: row["public_id"] for row in rows["check_ins"]}
    concern_ids = {row["id"]: row["public_id"] for row in rows["concerns"]}
    wellbeing = {"0": i18n.gettext("Not recorded"), **wellbeing_labels()}
    concern_states = state_labels()
    return [
        Part(
            "circle_transitions",
            i18n.gettext("Circle stages"),
            i18n.gettext("Every change of stage of their circles, with the reason given."),
            [
                Column("circle", i18n.gettext("Circle")),
                Column("from_state", i18n.gettext("From"), states),
                Column("to_state", i18n.gettext("To"), states),
                Column("reason", i18n.gettext("Reason")),
                Column("at", i18n.gettext("When")),
                Column("by", i18n.gettext("By")),
            ],
            _by_circle(
                [
                    {**row, "reason": people.redact(row["reason"]), "by": people.user(row["by"])}
                    for row in rows["transitions"]
                ],
                code_names,
            ),
        ),
        Part(
            "circle_volunteers",
            i18n.gettext("Volunteers of the circles"),
            i18n.gettext("Who was invited to their circles and how it went, by number only."),
            [
                Column("circle", i18n.gettext("Circle")),
                Column("volunteer", i18n.gettext("Volunteer")),
                Column("status", i18n.gettext("Status"), membership_labels()),
                Column("invited_at", i18n.gettext("Invited")),
                Column("invited_by", i18n.gettext("Invited by")),
                Column("responded_at", i18n.gettext("Answered")),
                Column("left_at", i18n.gettext("Left")),
            ],
            _by_circle(
                [
                    {
                        "circle": row["circle"],
                        "volunteer": people.volunteer(row["volunteer"]),
                        "status": row["status"],
                        "invited_at": row["invited_at"],
                        "invited_by": people.user(row["invited_by"]),
                        "responded_at": row["responded_at"],
                        "left_at": row["left_at"],
                    }
                    for row in rows["memberships"]
                ],
                code_names,
            ),
        ),
        Part(
            "outer_circle",
            i18n.gettext("Outer circle"),
            i18n.gettext("Professionals around their circles, by organisation and role (names are not exported)."),
            [
                Column("circle", i18n.gettext("Circle")),
                Column("organisation", i18n.gettext("Organisation")),
                Column("role", i18n.gettext("Role")),
            ],
            _by_circle(rows["outer"], code_names),
        ),
        Part(
            "meeting_series",
            i18n.gettext("Meeting plans"),
            i18n.gettext("Recurring meetings planned for their circles."),
            [
                Column("public_id", i18n.gettext("Reference")),
                Column("circle", i18n.gettext("Circle")),
                Column("frequency", i18n.gettext("How often"), frequency_labels()),
                Column("local_time", i18n.gettext("Time")),
                Column("duration_minutes", i18n.gettext("Minutes long")),
                Column("first_on", i18n.gettext("From")),
                Column("until_on", i18n.gettext("Until")),
                Column("venue", i18n.gettext("Venue")),
                Column("created_at", i18n.gettext("Planned")),
                Column("created_by", i18n.gettext("Planned by")),
            ],
            _by_circle([{**row, "created_by": people.user(row["created_by"])} for row in rows["series"]], code_names),
        ),
        Part(
            "meetings",
            i18n.gettext("Meetings and minutes"),
            i18n.gettext("Their circles' meetings, with the minutes."),
            [
                Column("public_id", i18n.gettext("Reference")),
                Column("circle", i18n.gettext("Circle")),
                Column("starts_at", i18n.gettext("Starts")),
                Column("ends_at", i18n.gettext("Ends")),
                Column("venue", i18n.gettext("Venue")),
                Column("cancelled_at", i18n.gettext("Cancelled")),
                Column("cancelled_reason", i18n.gettext("Why it was cancelled")),
                Column("minute_taker", i18n.gettext("Minute taker")),
                Column("minutes_status", i18n.gettext("Minutes"), minutes_labels()),
                Column("minutes", i18n.gettext("Minutes text")),
                Column("minutes_submitted_at", i18n.gettext("Minutes sent for review")),
                Column("minutes_approved_at", i18n.gettext("Minutes approved")),
                Column("minutes_approved_by", i18n.gettext("Approved by")),
                Column("minutes_shared_at", i18n.gettext("Minutes shared with the outer circle")),
            ],
            _by_circle(
                [
                    {
                        **row,
                        "cancelled_reason": people.redact(row["cancelled_reason"]),
                        "minute_taker": people.volunteer(row["minute_taker"]),
                        "minutes": people.redact(row["minutes"]),
                        "minutes_approved_by": people.user(row["minutes_approved_by"]),
                    }
                    for row in rows["meetings"]
                ],
                code_names,
            ),
        ),
        Part(
            "attendance",
            i18n.gettext("Attendance"),
            i18n.gettext("Who came to each meeting: the core member, and volunteers by number."),
            [
                Column("meeting", i18n.gettext("Meeting")),
                Column("meeting_starts_at", i18n.gettext("Meeting time")),
                Column("who", i18n.gettext("Who")),
                Column("status", i18n.gettext("Attendance"), attendance_labels()),
            ],
            [
                {
                    "meeting": meeting_ids.get(row["meeting"], ""),
                    "meeting_starts_at": meetings_at.get(row["meeting"]),
                    "who": people.volunteer(row["volunteer"]) if row["volunteer"] else i18n.gettext("The core member"),
                    "status": row["status"],
                }
                for row in rows["attendance"]
            ],
        ),
        Part(
            "check_ins",
            i18n.gettext("Check-ins"),
            i18n.gettext("Volunteers' records of contact with them between meetings."),
            [
                Column("public_id", i18n.gettext("Reference")),
                Column("circle", i18n.gettext("Circle")),
                Column("volunteer", i18n.gettext("Volunteer")),
                Column("happened_at", i18n.gettext("When")),
                Column("method", i18n.gettext("How"), method_labels()),
                Column("wellbeing", i18n.gettext("How they seemed"), wellbeing),
                Column("indicators", i18n.gettext("Indicators ticked"), indicator_labels),
                Column("notes", i18n.gettext("Notes")),
                Column("created_at", i18n.gettext("Recorded")),
            ],
            _by_circle(
                [
                    {
                        **row,
                        "volunteer": people.volunteer(row["volunteer"]),
                        "wellbeing": str(row["wellbeing"]),
                        "notes": people.redact(row["notes"]),
                    }
                    for row in rows["check_ins"]
                ],
                code_names,
            ),
        ),
        Part(
            "concerns",
            i18n.gettext("Concerns"),
            i18n.gettext("Concerns raised in their circles."),
            [
                Column("public_id", i18n.gettext("Reference")),
                Column("circle", i18n.gettext("Circle")),
                Column("raised_by", i18n.gettext("Raised by")),
                Column("check_in", i18n.gettext("From check-in")),
                Column("severity", i18n.gettext("How serious"), severity_labels()),
                Column("state", i18n.gettext("Where it is"), concern_states),
                Column("description", i18n.gettext("What was seen")),
                Column("indicators", i18n.gettext("Indicators"), indicator_labels),
                Column("seen_at", i18n.gettext("Seen")),
                Column("state_changed_at", i18n.gettext("Last step")),
                Column("created_at", i18n.gettext("Raised")),
            ],
            _by_circle(
                [
                    {
                        **row,
                        "raised_by": people.user(row["raised_by"]),
                        "check_in": check_in_ids.get(row["check_in"], ""),
                        "description": people.redact(row["description"]),
                    }
                    for row in rows["concerns"]
                ],
                code_names,
            ),
        ),
        Part(
            "concern_events",
            i18n.gettext("Concern timelines"),
            i18n.gettext("Every step of each concern, with who and when."),
            [
                Column("concern", i18n.gettext("Concern")),
                Column("kind", i18n.gettext("Step")),
                Column("to_state", i18n.gettext("Now"), concern_states),
                Column("note", i18n.gettext("Note")),
                Column("detail", i18n.gettext("Details")),
                Column("at", i18n.gettext("When")),
                Column("by", i18n.gettext("By")),
            ],
            [
                {
                    "concern": concern_ids.get(row["concern"], ""),
                    "kind": row["kind"],
                    "to_state": row["to_state"],
                    "note": people.redact(row["note"]),
                    "detail": scrub(row["detail"] if isinstance(row["detail"], dict) else {}, set(), {}),
                    "at": row["at"],
                    "by": people.user(row["by"]),
                }
                for row in rows["events"]
            ],
        ),
        Part(
            "escalations",
            i18n.gettext("Escalations to probation"),
            i18n.gettext("Concerns sent to their probation officer, and what was done."),
            [
                Column("public_id", i18n.gettext("Reference")),
                Column("concern", i18n.gettext("Concern")),
                Column("officer", i18n.gettext("Probation officer")),
                Column("severity", i18n.gettext("How serious"), severity_labels()),
                Column("level", i18n.gettext("Reminder level")),
                Column("created_at", i18n.gettext("Sent")),
                Column("acknowledged_at", i18n.gettext("Acknowledged")),
                Column("acknowledged_by", i18n.gettext("Acknowledged by")),
                Column("action", i18n.gettext("Action"), action_labels()),
                Column("action_notes", i18n.gettext("Notes on the action")),
                Column("actioned_at", i18n.gettext("Action recorded")),
                Column("closed_at", i18n.gettext("Closed")),
            ],
            [
                {
                    **row,
                    "concern": concern_ids.get(row["concern"], ""),
                    "officer": people.user(row["officer"]),
                    "acknowledged_by": people.user(row["acknowledged_by"]),
                    "action_notes": people.redact(row["action_notes"]),
                }
                for row in rows["escalations"]
            ],
        ),
    ]


# --- routes --------------------------------------------------------------------------------------------


def confirm_page(
    request: Req, *, name: str, back: str, action: str, contents: list[str], left_out: list[str]
) -> Response[Any]:
    """The page before the download: what the export holds, what it leaves out, and what to do with it."""
    return render(
        request,
        "export/confirm.html",
        {"name": name, "back": back, "action": action, "contents": contents, "left_out": left_out},
    )


def core_member_contents() -> list[str]:
    return [
        i18n.gettext("Their record, including offence details, order conditions and the NRM record."),
        i18n.gettext("Every change of their needs, their risk connections and the case notes about them."),
        i18n.gettext("Their circles: stages, covenant, volunteers (by number), outer circle (by organisation)."),
        i18n.gettext("Meetings with minutes and attendance, check-ins, concerns, their timelines and escalations."),
        i18n.gettext("How many calendar feeds show their circles' meetings."),
        i18n.gettext("The audit trail of who looked at or changed any of this, and when."),
    ]


class CoreMemberExportController(Controller):
    """Coordinators only (need to know: administrators run accounts, not cases), their own region only."""

    path = "/core-members"
    guards = [roles(Role.coordinator)]

    @get("/{public_id:uuid}/export", name="circles:core_member_export")
    async def confirm(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        return confirm_page(
            request,
            name=core_member["full_name"],
            contents=core_member_contents(),
            left_out=core_member_left_out(),
            back=request.app.route_reverse("circles:core_member", public_id=public_id),
            action=request.app.route_reverse("circles:core_member_export_download", public_id=public_id),
        )

    @post("/{public_id:uuid}/export", name="circles:core_member_export_download")
    async def download(self, request: Req, public_id: FromPath[UUID]) -> Response[bytes]:
        core_member = await core_member_or_404(request, public_id)
        user, now = request.scope["user"], utcnow()
        export = await core_member_export(core_member, by=user, now=now)
        body = build_zip(request.app.state.jinja, export)
        await audit.record(
            Action.CORE_MEMBER_EXPORTED,
            actor=user,
            object_type="core_member",
            object_id=public_id,
            detail=export.counts(),
            now=now,
        )
        return download(export, body)
