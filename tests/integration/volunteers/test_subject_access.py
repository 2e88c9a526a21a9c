"""Subject access for a volunteer (SECURITY.md 17): everything held about them, nothing about anyone else."""

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
    CheckIn,
    Concern,
    ConcernEvent,
    Meeting,
)
from cosa import second_factor
from cosa.audit import Action
from cosa.auth import new_token, token_hash
from cosa.clock import utcnow
from cosa.settings import load_settings
from cosa.tables import AuditEvent, Invitation, OutboxMessage, RecoveryCode, User, UserSession
from tests.integration.circles.conftest import make_circle, make_core_member, make_volunteer, seat
from tests.integration.conftest import QueryCounter, create_user, enrol_second_factor, form_post, login
from tests.integration.volunteers.helpers import add_volunteer, today
from volunteers.tables import SupervisionSession, VolunteerStatusChange

MARK = "leakmark"  # marks every text field of other people; never "canary" (the cast's core members use it)


def canary(field: str) -> str:
    return f"LEAKMARK-{field}"


async def add_meeting(circle: Any, days: int, **fields: Any) -> Meeting:
    starts = utcnow() - timedelta(days=days)
    meeting = Meeting(
        circle=circle.id, starts_at=starts, ends_at=starts + timedelta(minutes=90), created_at=utcnow(), **fields
    )
    await meeting.save()
    return meeting


async def add_check_in(circle: Any, volunteer: Any, notes: str, key: str) -> CheckIn:
    check_in = CheckIn(
        circle=circle.id,
        volunteer=volunteer.id,
        idempotency_key=key,
        happened_at=utcnow() - timedelta(days=1),
        method="in_person",
        wellbeing=1,
        indicators=["isolated"],
        notes=notes,
        created_at=utcnow(),
    )
    await check_in.save()
    return check_in


async def add_concern(circle: Any, user: Any, description: str) -> Concern:
    now = utcnow()
    concern = Concern(
        circle=circle.id,
        raised_by=user.id,
        severity="urgent",
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
    return concern


@pytest.fixture
async def world(settings: Any, cast: Any) -> Any:
    """Alice, the subject, in a circle whose core member, other volunteers and their records are all
    marked LEAKMARK (except the circle's code name, which Alice's export uses to name the circle)."""
    now = utcnow()
    core = await make_core_member(
        cast.north,
        cast.probation,
        full_name=canary("full-name"),
        known_as=canary("known-as"),
        pronouns=canary("pronouns"),
        offence_details=canary("offence"),
        order_conditions=canary("order"),
    )
    circle = await make_circle(core, cast.coordinator, venue=canary("venue"), covenant_text=canary("covenant"))
    alice = await make_volunteer(
        cast.north,
        "Alice Volunteer",
        user=cast.volunteer_a1,
        phone="07700 900123",
        declared_connections="My cousin lives in NG7.",
    )
    bob = await make_volunteer(cast.north, "Bob Volunteer", user=cast.volunteer_a2)
    canary_user = await create_user(settings, "leakmark.user@example.org", "volunteer", name="Leakmark Quill")
    leak = await make_volunteer(
        cast.north,
        "Leakmark Quill",
        user=canary_user,
        email="leakmark.volunteer@example.org",
        phone=canary("phone"),
        declared_connections=canary("declared"),
    )
    for volunteer in (alice, bob, leak):
        await seat(circle, volunteer)

    # Alice's own records.
    await VolunteerStatusChange(
        volunteer=alice.id, from_status="", to_status="applicant", changed_at=now, changed_by=cast.coordinator.id
    ).save()
    await VolunteerStatusChange(
        volunteer=alice.id, from_status="trained", to_status="active", changed_at=now, changed_by=cast.coordinator.id
    ).save()
    await SupervisionSession(
        volunteer=alice.id,
        coordinator=cast.coordinator.id,
        held_on=today(),
        notes=f"Alice is doing well. Bob Volunteer and Leakmark Quill support her; {canary('full-name')} is settling.",
        created_at=now,
    ).save()
    meeting = await add_meeting(circle, 5, minute_taker=alice.id, minutes=canary("minutes"), minutes_status="draft")
    await Attendance(meeting=meeting.id, volunteer=alice.id, status="attended").save()
    await Attendance(meeting=meeting.id, volunteer=leak.id, status="absent").save()
    await Attendance(meeting=meeting.id, volunteer=None, status="attended").save()
    check_in = await add_check_in(circle, alice, canary("what-alice-wrote-about-the-core-member"), "alice-1")
    concern = await add_concern(circle, cast.volunteer_a1, canary("what-alice-saw"))
    # The others' records, which must stay out.
    await add_check_in(circle, leak, canary("check-in"), "leak-1")
    await add_concern(circle, canary_user, canary("concern"))
    await SupervisionSession(volunteer=leak.id, held_on=today(), notes=canary("supervision"), created_at=now).save()
    await VolunteerStatusChange(volunteer=leak.id, to_status="active", changed_at=now, reason=canary("reason")).save()
    # Alice's account, with every kind of secret the database holds for it.
    raw_secret = await enrol_second_factor("alice@example.org")
    feed_hash = token_hash(new_token())
    await CalendarFeed(user=cast.volunteer_a1.id, token_hash=feed_hash, created_at=now).save()
    invitation_hash = token_hash(new_token())
    await Invitation(
        token_hash=invitation_hash,
        user=cast.volunteer_a1.id,
        created_by=cast.coordinator.id,
        created_at=now - timedelta(days=30),
        expires_at=now - timedelta(days=29),
        used_at=now - timedelta(days=29),
    ).save()
    code_hash = token_hash("recovery-code-1234")
    await RecoveryCode(user=cast.volunteer_a1.id, code_hash=code_hash, created_at=now).save()
    await OutboxMessage(
        message_id="<m1@cosa.example>",
        recipient="alice@example.org",
        subject="Reminder: Circle Rowan meets tomorrow",
        body_text=f"Hello Alice, {canary('email-body')} https://cosa.example/invitation/{new_token()}",
        kind="meeting_reminder",
        created_at=now,
        next_attempt_at=now,
    ).save()
    await OutboxMessage(
        message_id="<m2@cosa.example>",
        recipient="leakmark.user@example.org",
        subject=canary("subject"),
        body_text=canary("body"),
        kind="meeting_reminder",
        created_at=now,
        next_attempt_at=now,
    ).save()
    cast.alice, cast.bob, cast.leak, cast.canary_user = alice, bob, leak, canary_user
    cast.core, cast.circle, cast.meeting, cast.check_in, cast.concern = core, circle, meeting, check_in, concern
    cast.secrets = [raw_secret, feed_hash, invitation_hash, code_hash]
    return cast


async def export(client: Any, volunteer: Any) -> Any:
    return await form_post(client, f"/volunteers/{volunteer.public_id}/export")


def unzip(response: Any) -> dict[str, bytes]:
    assert response.status_code == 200, response.text[:500]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def read_csv(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))


def everything(response: Any, files: dict[str, bytes]) -> str:
    parts = [response.content.decode("latin-1"), *files, *(data.decode("utf-8", "replace") for data in files.values())]
    return "\n".join(parts)


async def alice_uses_the_app(make_client: Any, world: Any) -> None:
    """Alice signs in, and tries a circle that is not hers (refused, audited against that circle)."""
    other = await make_core_member(world.north, None, full_name=canary("other-core-member"))
    other_circle = await make_circle(other, world.coordinator, code_name=canary("other-circle"))
    world.other_circle = other_circle
    phone = await make_client()
    await login(phone, "alice@example.org")
    assert (await phone.get(f"/circles/{other_circle.public_id}")).status_code == 404


async def test_the_export_holds_the_volunteers_data(client, make_client, world):
    await alice_uses_the_app(make_client, world)
    await login(client, "cara@example.org")
    await client.get(f"/volunteers/{world.alice.public_id}")  # viewing is audited: the trail shows it
    response = await export(client, world.alice)
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="subject-access-volunteer-{world.alice.public_id}.zip"'
    )
    assert response.headers["cache-control"] == "no-store"
    files = unzip(response)
    assert set(files) == {
        "summary.html", "manifest.json", "volunteer.json", "vetting.json", "status_history.csv", "supervision.csv",
        "circle_memberships.csv", "attendance.csv", "minute_taking.csv", "check_ins.csv", "concerns_raised.csv",
        "concern_steps.csv", "account.json", "sessions.csv", "recovery_codes.csv", "account_invitations.csv",
        "calendar_feeds.csv", "sign_in_failures.csv", "emails.csv", "audit.csv",
    }  # fmt: skip
    record = json.loads(files["volunteer.json"])
    assert record["display_name"] == "Alice Volunteer" and record["email"] == "alice@volunteers.example"
    assert record["phone"] == "07700 900123" and record["declared_connections"] == "My cousin lives in NG7."
    assert record["region"] == "North" and "id" not in record and "user" not in record
    vetting = json.loads(files["vetting.json"])
    assert vetting["dbs_certificate_on"] and vetting["dbs_renewal_due_on"] > vetting["dbs_certificate_on"]
    history = read_csv(files, "status_history.csv")
    assert [h["to_status"] for h in history] == ["applicant", "active"] and history[0][
        "changed_by"
    ] == "Cara Coordinator"
    supervision = read_csv(files, "supervision.csv")
    assert supervision[0]["notes"] == (
        "Alice is doing well. [another volunteer] and [another volunteer] support her; [a core member] is settling."
    )
    assert read_csv(files, "circle_memberships.csv")[0]["circle"] == "Circle Rowan"
    attendance = read_csv(files, "attendance.csv")
    assert attendance == [
        {
            "meeting": str(world.meeting.public_id),
            "circle": "Circle Rowan",
            "starts_at": attendance[0]["starts_at"],
            "status": "attended",
        }
    ]
    minutes = read_csv(files, "minute_taking.csv")
    assert len(minutes) == 1 and "minutes" not in minutes[0] and minutes[0]["minutes_status"] == "draft"
    check_ins = read_csv(files, "check_ins.csv")
    assert [c["public_id"] for c in check_ins] == [str(world.check_in.public_id)]
    assert set(check_ins[0]) == {"public_id", "circle", "happened_at", "method", "created_at"}
    concerns = read_csv(files, "concerns_raised.csv")
    assert [(c["public_id"], c["severity"]) for c in concerns] == [(str(world.concern.public_id), "urgent")]
    assert read_csv(files, "concern_steps.csv")[0]["kind"] == "raised"

    account = json.loads(files["account.json"])
    assert account["email"] == "alice@example.org" and account["password_set"] is True
    assert account["totp_enabled_at"] and account["role"] == "volunteer"
    assert not {"password_hash", "totp_secret", "totp_last_step", "id"} & set(account)
    assert len(read_csv(files, "sessions.csv")) == 1  # the phone's session
    assert len(read_csv(files, "calendar_feeds.csv")) == 1
    assert read_csv(files, "account_invitations.csv")[0]["created_by"] == "Cara Coordinator"
    assert len(read_csv(files, "recovery_codes.csv")) == 1
    emails = read_csv(files, "emails.csv")
    assert emails == [
        {
            "kind": "meeting_reminder",
            "subject": "Reminder: Circle Rowan meets tomorrow",
            "status": "queued",
            "created_at": emails[0]["created_at"],
            "sent_at": "",
            "attempts": "0",
        }
    ]
    audit = read_csv(files, "audit.csv")
    logins = [row for row in audit if row["action"] == Action.LOGIN]
    assert logins and logins[0]["who"] == "Alice Volunteer"
    viewed = [row for row in audit if row["action"] == "volunteer.viewed"]
    assert viewed and viewed[0]["who"] == "Cara Coordinator"
    refused = [row for row in audit if row["action"] == Action.ACCESS_REFUSED]
    assert refused and refused[0]["object_type"] == "circle" and refused[0]["object_id"] == "withheld"

    summary = files["summary.html"].decode()
    assert "Everything held about Alice Volunteer" in summary and "alice@volunteers.example" in summary
    for external in ("src=", 'href="http', 'href="/', "<link", "<script"):
        assert external not in summary


async def test_nothing_about_anyone_else_is_in_the_export(client, make_client, world):
    await alice_uses_the_app(make_client, world)
    await login(client, "cara@example.org")
    await client.get(f"/volunteers/{world.leak.public_id}")  # an audit row about someone else
    response = await export(client, world.alice)
    text = everything(response, unzip(response))
    assert MARK not in text.lower()
    for private in (
        "Bob", "bob@", "Quill", str(world.core.public_id), str(world.circle.public_id),
        str(world.leak.public_id), str(world.bob.public_id), str(world.other_circle.public_id),
    ):  # fmt: skip
        assert private not in text, private
    settings = load_settings()
    secrets = list(world.secrets)
    for user in await User.select(User.password_hash, User.totp_secret).where(User.email == "alice@example.org"):
        secrets += [user["password_hash"], user["totp_secret"]]
        assert second_factor.unseal(settings, user["totp_secret"]) in secrets
    secrets += [row["token_hash"] for row in await UserSession.select(UserSession.token_hash)]
    assert len(secrets) >= 7
    for secret in secrets:
        assert secret and secret not in text


async def test_the_export_is_audited_with_counts_only(client, world):
    await login(client, "cara@example.org")
    await export(client, world.alice)
    rows = await AuditEvent.select().where(AuditEvent.action == Action.VOLUNTEER_EXPORTED).output(load_json=True)
    assert len(rows) == 1
    assert rows[0]["actor"] == world.coordinator.id and rows[0]["object_id"] == str(world.alice.public_id)
    assert set(rows[0]["detail"]) == {"files", "rows"} and rows[0]["detail"]["files"] == 20


async def test_the_confirmation_page_explains_and_the_volunteer_page_links_to_it(client, world):
    await login(client, "cara@example.org")
    detail = await client.get(f"/volunteers/{world.alice.public_id}")
    assert f'href="/volunteers/{world.alice.public_id}/export"' in detail.text
    page = await client.get(f"/volunteers/{world.alice.public_id}/export")
    assert page.status_code == 200 and "Export everything held about Alice Volunteer" in page.text
    assert "not what they wrote about someone else" in page.text
    assert 'method="post"' in page.text and "_csrf_token" in page.text
    assert await AuditEvent.count().where(AuditEvent.action == Action.VOLUNTEER_EXPORTED) == 0


@pytest.mark.parametrize("email", ["dan@example.org", "alice@example.org", "priya@example.org", "ada@example.org"])
async def test_only_the_regions_coordinators_can_export(client, world, email):
    """Another region's coordinator, the volunteer herself, a probation officer and an administrator."""
    await login(client, email)
    url = f"/volunteers/{world.alice.public_id}/export"
    for attempt in (client.get(url), form_post(client, url)):
        before = await AuditEvent.count().where(AuditEvent.action == Action.ACCESS_REFUSED)
        response = await attempt
        assert response.status_code == 404
        assert await AuditEvent.count().where(AuditEvent.action == Action.ACCESS_REFUSED) == before + 1
    assert await AuditEvent.count().where(AuditEvent.action == Action.VOLUNTEER_EXPORTED) == 0


async def test_an_applicant_without_an_account_exports(client, cast):
    applicant = await add_volunteer(cast.north, "Nia Newcomer")
    await login(client, "cara@example.org")
    files = unzip(await export(client, applicant))
    assert json.loads(files["volunteer.json"])["display_name"] == "Nia Newcomer"
    assert json.loads(files["account.json"]) == {}
    assert read_csv(files, "sessions.csv") == [] and read_csv(files, "circle_memberships.csv") == []
    assert read_csv(files, "status_history.csv")[0]["to_status"] == "applicant"


async def test_the_export_costs_the_same_number_of_queries_however_long_the_record(client, world, monkeypatch):
    await login(client, "cara@example.org")
    counter = QueryCounter(monkeypatch)
    await export(client, world.alice)
    few = await counter.during(export(client, world.alice))
    circle = await make_circle(await make_core_member(world.north, None), world.coordinator, code_name="Circle Ash")
    await seat(circle, world.alice)
    for i in range(15):
        meeting = await add_meeting(circle, 10 + i, minute_taker=world.alice.id)
        await Attendance(meeting=meeting.id, volunteer=world.alice.id, status="attended").save()
        await add_check_in(circle, world.alice, f"Check-in {i}", f"more-{i}")
        await add_concern(circle, world.volunteer_a1, f"Concern {i}")
        await SupervisionSession(
            volunteer=world.alice.id, held_on=today(), notes=f"Session {i}", created_at=utcnow()
        ).save()
    many = await counter.during(export(client, world.alice))
    assert 0 < many == few
