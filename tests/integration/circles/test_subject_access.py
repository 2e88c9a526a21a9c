"""Subject access for a core member (SECURITY.md 17): everything held about them, nothing about anyone else."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from typing import Any

import pytest

from circles.tables import (
    Attendance,
    CalendarFeed,
    CaseNote,
    CheckIn,
    CircleMembership,
    Concern,
    ConcernEvent,
    Escalation,
    Meeting,
    MeetingSeries,
    NeedChange,
    OuterCircleMember,
    RiskConnection,
)
from cosa.audit import Action
from cosa.auth import new_token, token_hash
from cosa.clock import utcnow
from cosa.tables import AuditEvent, Invitation, User, UserSession
from tests.integration.circles.conftest import TODAY, make_circle, make_core_member, make_volunteer, seat
from tests.integration.conftest import QueryCounter, create_user, form_post, login

MARK = "leakmark"  # not "canary": the cast's own core members carry OFFENCE-DETAIL-CANARY


def canary(field: str) -> str:
    return f"LEAKMARK-{field}"


async def add_meeting(circle: Any, days: int, **fields: Any) -> Meeting:
    starts = utcnow() - timedelta(days=days)
    meeting = Meeting(
        circle=circle.id, starts_at=starts, ends_at=starts + timedelta(minutes=90), created_at=utcnow(), **fields
    )
    await meeting.save()
    return meeting


async def add_check_in(circle: Any, volunteer: Any, notes: str, key: str, **fields: Any) -> CheckIn:
    check_in = CheckIn(
        circle=circle.id,
        volunteer=volunteer.id,
        idempotency_key=key,
        happened_at=utcnow() - timedelta(days=2),
        method="phone",
        wellbeing=2,
        indicators=["isolated"],
        notes=notes,
        created_at=utcnow(),
        **fields,
    )
    await check_in.save()
    return check_in


async def add_concern(circle: Any, user: Any, description: str, *, escalate_to: Any = None) -> Concern:
    now = utcnow()
    concern = Concern(
        circle=circle.id,
        raised_by=user.id,
        severity="concern",
        description=description,
        seen_at=now,
        state="raised",
        state_changed_at=now,
        created_at=now,
    )
    await concern.save()
    await ConcernEvent(
        concern=concern.id, kind="raised", to_state="raised", note=description, at=now, by=user.id
    ).save()
    if escalate_to is not None:
        await Escalation(
            concern=concern.id,
            officer=escalate_to.id,
            severity="concern",
            created_at=now,
            action="home_visit",
            action_notes=description,
        ).save()
    return concern


@pytest.fixture
async def world(settings: Any, programme: Any) -> Any:
    """Circle A of the programme, filled in; beside it a canary: a volunteer seated in circle A and a
    core member (with their own circle), every text field of theirs marked LEAKMARK."""
    cast = programme
    core, circle = cast.core_a, cast.circle_a
    now = utcnow()
    # The canary volunteer, in the subject's own circle, with an account of their own.
    canary_user = await create_user(settings, "leakmark.user@example.org", "volunteer", name="Leakmark Quill")
    canary_volunteer = await make_volunteer(
        cast.north,
        "Leakmark Quill",
        user=canary_user,
        email="leakmark.volunteer@example.org",
        phone=canary("phone"),
        declared_connections=canary("declared"),
        home_district="NG9",
    )
    await seat(circle, canary_volunteer)
    # The canary core member, every text field marked, with a circle, notes, check-ins and concerns of their own.
    other = await make_core_member(
        cast.north,
        cast.probation,
        full_name=canary("full-name"),
        known_as=canary("known-as"),
        pronouns=canary("pronouns"),
        offence_details=canary("offence"),
        order_conditions=canary("order"),
        address_district="NG2",
    )
    other_circle = await make_circle(
        other,
        cast.coordinator,
        code_name=canary("code-name"),
        venue=canary("venue"),
        covenant_text=canary("covenant"),
        termination_reason=canary("termination"),
    )
    await seat(other_circle, canary_volunteer)
    await CaseNote(core_member=other.id, body=canary("note"), created_at=now, created_by=cast.coordinator.id).save()
    await RiskConnection(core_member=other.id, kind="person", description=canary("connection"), created_at=now).save()
    await NeedChange(core_member=other.id, area="family", status="unmet", changed_on=TODAY, changed_at=now).save()
    await add_meeting(other_circle, 3, minutes=canary("minutes"), venue=canary("meeting-venue"))
    await add_check_in(other_circle, canary_volunteer, canary("check-in"), "canary-1")
    await add_concern(other_circle, canary_user, canary("concern"), escalate_to=cast.probation)
    await OuterCircleMember(
        circle=other_circle.id, name=canary("outer"), organisation=canary("org"), role=canary("role")
    ).save()

    # The subject's own record, filled in across every table that refers to them.
    await NeedChange(
        core_member=core.id,
        area="accommodation",
        status="partly_met",
        changed_on=TODAY,
        changed_at=now,
        changed_by=cast.coordinator.id,
    ).save()
    await CaseNote(
        core_member=core.id,
        body="Housing officer called about the flat.",
        created_at=now,
        created_by=cast.coordinator.id,
    ).save()
    await CaseNote(
        core_member=core.id,
        body='=HYPERLINK("http://evil.example")',
        created_at=now,
        created_by=cast.coordinator.id,
    ).save()
    await OuterCircleMember(
        circle=circle.id,
        name="Olive Outerperson",
        organisation="Nottingham Housing",
        role="Housing officer",
        email="olive@housing.example",
        phone="0115 000 0000",
    ).save()
    await MeetingSeries(
        circle=circle.id,
        frequency="weekly",
        local_time=now.time().replace(microsecond=0),
        first_on=TODAY,
        venue="Community Centre",
        created_at=now,
        created_by=cast.coordinator.id,
    ).save()
    meeting = await add_meeting(
        circle,
        7,
        venue="Community Centre",
        minute_taker=cast.alice.id,
        minutes_status="approved",
        minutes="Dan talked about his job search. Alice Volunteer will help with the CV; Leakmark Quill sent apologies.",
        minutes_approved_by=cast.coordinator.id,
        minutes_approved_at=now,
    )
    await Attendance(meeting=meeting.id, volunteer=None, status="attended").save()
    await Attendance(meeting=meeting.id, volunteer=cast.alice.id, status="attended").save()
    await Attendance(meeting=meeting.id, volunteer=canary_volunteer.id, status="apologies").save()
    check_in = await add_check_in(circle, cast.alice, "Dan seemed low. Bob and I will visit on Friday.", "subject-1")
    await add_check_in(circle, canary_volunteer, "Coffee with Dan, he is doing fine.", "subject-2")
    concern = await add_concern(
        circle, cast.volunteer_a1, "Dan was seen near the car wash.", escalate_to=cast.probation
    )
    concern.check_in = check_in.id
    await concern.save()
    # Secrets that must never travel: calendar and invitation token hashes, sessions, password hashes.
    feed_hash = token_hash(new_token())
    await CalendarFeed(user=cast.volunteer_a1.id, token_hash=feed_hash, created_at=now).save()
    await CalendarFeed(user=canary_user.id, token_hash=token_hash(new_token()), created_at=now, revoked_at=now).save()
    invitation_hash = token_hash(new_token())
    await Invitation(
        token_hash=invitation_hash, user=canary_user.id, created_at=now, expires_at=now + timedelta(days=1)
    ).save()
    session_hash = token_hash(new_token())
    await UserSession(
        token_hash=session_hash,
        user=canary_user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=1),
    ).save()
    hashes = [row["password_hash"] for row in await User.select(User.password_hash) if row["password_hash"]]
    cast.secrets = [feed_hash, invitation_hash, session_hash, *hashes]
    cast.canary_volunteer, cast.canary_user, cast.other, cast.other_circle = (
        canary_volunteer,
        canary_user,
        other,
        other_circle,
    )
    cast.meeting, cast.concern, cast.check_in = meeting, concern, check_in
    return cast


async def export(client: Any, core: Any) -> Any:
    return await form_post(client, f"/core-members/{core.public_id}/export")


def unzip(response: Any) -> dict[str, bytes]:
    assert response.status_code == 200, response.text[:500]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def read_csv(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))


def everything(response: Any, files: dict[str, bytes]) -> str:
    """The export as one text: the ZIP's own bytes, every file inside and every file name."""
    parts = [response.content.decode("latin-1"), *files, *(data.decode("utf-8", "replace") for data in files.values())]
    return "\n".join(parts)


async def test_the_export_holds_the_core_members_data_in_csv_and_json(client, world):
    await login(client, "cara@example.org")
    await client.get(f"/core-members/{world.core_a.public_id}")  # viewing is audited: the trail shows it
    response = await export(client, world.core_a)
    assert response.headers["content-type"] == "application/zip"
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="subject-access-core-member-{world.core_a.public_id}.zip"'
    assert response.headers["cache-control"] == "no-store"
    files = unzip(response)
    expected = {
        "summary.html",
        "manifest.json",
        "core_member.json",
        "nrm.json",
        "needs.csv",
        "risk_connections.csv",
        "case_notes.csv",
        "circles.csv",
        "circle_transitions.csv",
        "circle_volunteers.csv",
        "outer_circle.csv",
        "meeting_series.csv",
        "meetings.csv",
        "attendance.csv",
        "check_ins.csv",
        "concerns.csv",
        "concern_events.csv",
        "escalations.csv",
        "calendar_feeds.json",
        "audit.csv",
    }
    assert set(files) == expected

    record = json.loads(files["core_member.json"])
    assert record["full_name"] == "Daniel Mensah" and record["offence_details"] == "OFFENCE-DETAIL-CANARY"
    assert record["probation_officer"] == "Priya Probation" and record["region"] == "North"
    assert "id" not in record and "public_id" in record
    assert read_csv(files, "needs.csv")[0]["status"] == "partly_met"
    assert read_csv(files, "risk_connections.csv")[0]["description"] == "A car wash in Sneinton"
    notes = read_csv(files, "case_notes.csv")
    assert notes[0]["body"] == "Housing officer called about the flat." and notes[0]["created_by"] == "Cara Coordinator"
    assert read_csv(files, "circles.csv")[0]["code_name"] == "Circle Rowan"
    volunteers = read_csv(files, "circle_volunteers.csv")
    assert [v["volunteer"] for v in volunteers] == ["Volunteer 1", "Volunteer 2", "Volunteer 3"]
    assert read_csv(files, "outer_circle.csv") == [
        {"circle": "Circle Rowan", "organisation": "Nottingham Housing", "role": "Housing officer"}
    ]
    meetings = read_csv(files, "meetings.csv")
    assert len(meetings) == 1 and meetings[0]["minute_taker"] == "Volunteer 1"
    assert "job search" in meetings[0]["minutes"]
    who = {(row["who"], row["status"]) for row in read_csv(files, "attendance.csv")}
    assert who == {("The core member", "attended"), ("Volunteer 1", "attended"), ("Volunteer 3", "apologies")}
    check_ins = read_csv(files, "check_ins.csv")
    assert {c["volunteer"] for c in check_ins} == {"Volunteer 1", "Volunteer 3"}
    assert "idempotency_key" not in check_ins[0]
    concerns = read_csv(files, "concerns.csv")
    assert concerns[0]["raised_by"] == "Volunteer 1" and concerns[0]["check_in"] == str(world.check_in.public_id)
    assert read_csv(files, "concern_events.csv")[0]["kind"] == "raised"
    escalation = read_csv(files, "escalations.csv")[0]
    assert escalation["officer"] == "Priya Probation" and escalation["action"] == "home_visit"
    # Alice's feed is live and she is in the circle; the canary's is stopped: one feed shows these meetings.
    assert json.loads(files["calendar_feeds.json"]) == {"live_feeds_with_these_meetings": 1}
    audit_rows = read_csv(files, "audit.csv")
    viewed = [row for row in audit_rows if row["action"] == Action.CORE_MEMBER_VIEWED]
    assert viewed and viewed[0]["who"] == "Cara Coordinator" and viewed[0]["object_id"] == str(world.core_a.public_id)
    manifest = json.loads(files["manifest.json"])
    assert {f["file"]: f["rows"] for f in manifest["files"]}["check_ins.csv"] == 2

    summary = files["summary.html"].decode()
    assert "Daniel Mensah" in summary and "Housing officer called about the flat." in summary
    assert "<h2" in summary and '<html lang="en-GB">' in summary
    for external in ("src=", 'href="http', 'href="/', "<link", "<script", "url("):
        assert external not in summary


async def test_nothing_about_anyone_else_is_in_the_export(client, world):
    await login(client, "cara@example.org")
    response = await export(client, world.core_a)
    text = everything(response, unzip(response))
    assert MARK not in text.lower()
    # Other volunteers of the same circle, the other core members, outer-circle names and contact details.
    for private in (
        "Alice",
        "Bob",
        "Quill",
        "alice@",
        "bob@",
        "@volunteers.example",
        "Ewa",
        "Nowak",
        "Olive",
        "Outerperson",
        "olive@housing",
        "0115 000 0000",
        "NG9",
        str(world.other.public_id),
        str(world.core_b.public_id),
        str(world.canary_volunteer.public_id),
        str(world.alice.public_id),
    ):
        assert private not in text, private
    # The coordinator's second factor (enrolled at sign-in) and every session, besides the fixture's secrets.
    users = await User.select(User.totp_secret).where(User.totp_secret != "")
    sessions = await UserSession.select(UserSession.token_hash)
    secrets = [*world.secrets, *(u["totp_secret"] for u in users), *(s["token_hash"] for s in sessions)]
    assert len(secrets) >= len(world.secrets) + 2
    for secret in secrets:
        assert secret and secret not in text
    files = unzip(response)
    minutes = read_csv(files, "meetings.csv")[0]["minutes"]
    # The names typed into the minutes give way to the same labels the rows use.
    assert minutes == (
        "Dan talked about his job search. [Volunteer 1] will help with the CV; [Volunteer 3] sent apologies."
    )
    assert "[Volunteer 2] and I will visit" in read_csv(files, "check_ins.csv")[0]["notes"]


async def test_spreadsheet_formulas_are_defused(client, world):
    await login(client, "cara@example.org")
    files = unzip(await export(client, world.core_a))
    bodies = [row["body"] for row in read_csv(files, "case_notes.csv")]
    assert '\'=HYPERLINK("http://evil.example")' in bodies
    # The summary page shows the text as it was written, escaped.
    assert "=HYPERLINK(&#34;http://evil.example&#34;)" in files["summary.html"].decode()


async def test_the_export_is_audited_with_counts_only(client, world):
    await login(client, "cara@example.org")
    before = await AuditEvent.count().where(AuditEvent.action == Action.CORE_MEMBER_EXPORTED)
    await export(client, world.core_a)
    rows = await AuditEvent.select().where(AuditEvent.action == Action.CORE_MEMBER_EXPORTED).output(load_json=True)
    assert len(rows) == before + 1
    row = rows[-1]
    assert row["actor"] == world.coordinator.id and row["object_id"] == str(world.core_a.public_id)
    assert set(row["detail"]) == {"files", "rows"} and row["detail"]["files"] == 20


async def test_the_confirmation_page_explains_and_does_not_download(client, world):
    await login(client, "cara@example.org")
    detail = await client.get(f"/core-members/{world.core_a.public_id}")
    assert f'href="/core-members/{world.core_a.public_id}/export"' in detail.text
    assert "Export everything held (subject access)" in detail.text
    page = await client.get(f"/core-members/{world.core_a.public_id}/export")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Export everything held about Daniel Mensah" in page.text
    assert 'method="post"' in page.text and "_csrf_token" in page.text
    assert await AuditEvent.count().where(AuditEvent.action == Action.CORE_MEMBER_EXPORTED) == 0


async def test_the_download_needs_the_csrf_token(client, world):
    await login(client, "cara@example.org")
    response = await client.post(f"/core-members/{world.core_a.public_id}/export", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert await AuditEvent.count().where(AuditEvent.action == Action.CORE_MEMBER_EXPORTED) == 0


@pytest.mark.parametrize("email", ["dan@example.org", "alice@example.org", "priya@example.org", "ada@example.org"])
async def test_only_the_regions_coordinators_can_export(client, world, email):
    """Another region's coordinator, a volunteer of the circle, the core member's own probation officer and
    an administrator: all get 404, and each refusal is audited."""
    await login(client, email)
    url = f"/core-members/{world.core_a.public_id}/export"
    for attempt in (client.get(url), form_post(client, url)):
        before = await AuditEvent.count().where(AuditEvent.action == Action.ACCESS_REFUSED)
        response = await attempt
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert await AuditEvent.count().where(AuditEvent.action == Action.ACCESS_REFUSED) == before + 1
    assert await AuditEvent.count().where(AuditEvent.action == Action.CORE_MEMBER_EXPORTED) == 0


async def test_probation_officers_do_not_see_the_export_link(client, world):
    await login(client, "priya@example.org")
    page = await client.get(f"/core-members/{world.core_a.public_id}")
    assert page.status_code == 200 and "/export" not in page.text


async def test_a_core_member_without_circles_still_exports(client, cast):
    core = await make_core_member(cast.north, None, offence_details="", order_conditions="")
    await login(client, "cara@example.org")
    files = unzip(await export(client, core))
    assert read_csv(files, "circles.csv") == [] and read_csv(files, "check_ins.csv") == []
    assert json.loads(files["calendar_feeds.json"]) == {"live_feeds_with_these_meetings": 0}
    assert "Nothing held." in files["summary.html"].decode()


async def test_the_export_costs_the_same_number_of_queries_however_long_the_record(client, world, monkeypatch):
    await login(client, "cara@example.org")
    counter = QueryCounter(monkeypatch)
    await export(client, world.core_a)
    few = await counter.during(export(client, world.core_a))
    for i in range(15):
        meeting = await add_meeting(world.circle_a, 10 + i, minutes=f"Meeting {i}")
        await Attendance(meeting=meeting.id, volunteer=world.bob.id, status="attended").save()
        await add_check_in(world.circle_a, world.bob, f"Check-in {i}", f"more-{i}")
        await add_concern(world.circle_a, world.volunteer_a2, f"Concern {i}", escalate_to=world.probation)
        await CaseNote(core_member=world.core_a.id, body=f"Note {i}", created_at=utcnow()).save()
    volunteer = await make_volunteer(world.north, "Extra Person", email="extra@volunteers.example")
    await CircleMembership(circle=world.circle_a.id, volunteer=volunteer.id, invited_at=utcnow()).save()
    many = await counter.during(export(client, world.core_a))
    assert 0 < many == few
