"""Retention (SECURITY.md 16): expired personal data is anonymised, figures survive, periods have legal floors."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import uuid
from collections import Counter
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from piccolo.conf.apps import Finder

from circles import retention as sweep
from circles.tables import (
    Attendance,
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
    NeedChange,
    OuterCircleMember,
    RiskConnection,
)
from cosa import retention
from cosa.audit import Action, verify_chain
from cosa.clock import utcnow
from cosa.scheduler import all_jobs
from cosa.settings import PROJECT_ROOT
from cosa.tables import AuditEvent, OutboxMessage, RetentionSetting, User, UserSession
from tests.integration.circles.conftest import make_circle, make_core_member, make_volunteer, seat
from tests.integration.conftest import create_user, form_post, login
from volunteers.tables import SupervisionSession, Volunteer, VolunteerStatusChange

CIRCLE_DAYS = retention.KINDS[retention.CLOSED_CIRCLE].default_days
APPLICATION_DAYS = retention.KINDS[retention.REJECTED_APPLICATION].default_days
EXPIRED = "XPCANARY"  # every free-text field of the expired core member's record carries this
KEPT = "KPCANARY"  # the same for the core member still inside the period


# --- building a history ---------------------------------------------------------------------------------


async def closed_history(
    cast: Any,
    tag: str,
    closed_at: datetime,
    *,
    code_name: str,
    districts: tuple[str, str] = ("ZZ9", "ZZ8"),
    phone: str = "07700 900123",
    **member: Any,
) -> Any:
    """A core member with a circle closed at `closed_at` and a full history, every free text tagged."""
    fields: dict[str, Any] = {
        "full_name": f"{tag}-fullname Okafor",
        "known_as": f"{tag}-knownas",
        "pronouns": f"{tag}-pron",
        "gender": "woman",
        "volunteer_gender_preference": "woman",
        "languages": ["yo", "en"],
        "release_on": date(2016, 3, 1),
        "licence_ends_on": date(2017, 3, 1),
        "order_ends_on": date(2018, 3, 1),
        "order_conditions": f"{tag}-order-conditions",
        "offence_details": f"{tag}-offence-details",
        "address_district": districts[0],
        "referred_on": date(2015, 10, 17),
        "nrm_referred_on": date(2015, 11, 2),
        "nrm_reasonable_grounds": "positive",
        "nrm_reasonable_grounds_on": date(2015, 11, 20),
        "nrm_conclusive_grounds": "positive",
        "nrm_conclusive_grounds_on": date(2016, 2, 2),
        "public_order_disqualification": True,
    }
    fields.update(member)
    core = await make_core_member(cast.north, cast.probation, **fields)
    await RiskConnection(
        core_member=core.id,
        kind="person",
        description=f"{tag}-risk-person",
        districts=[districts[1]],
        created_at=closed_at,
    ).save()
    await CaseNote(core_member=core.id, body=f"{tag}-case-note", created_at=closed_at).save()
    for status in ("unmet", "met"):
        await NeedChange(
            core_member=core.id, area="accommodation", status=status, changed_on=date(2016, 5, 1), changed_at=closed_at
        ).save()
    circle = await make_circle(
        core,
        cast.coordinator,
        code_name=code_name,
        state="closed",
        state_changed_at=closed_at,
        venue=f"{tag}-venue",
        covenant_text=f"{tag}-covenant",
        covenant_version=1,
        termination_reason=f"{tag}-termination",
    )
    await CircleTransition(
        circle=circle.id, from_state="ending", to_state="closed", reason=f"{tag}-transition", at=closed_at
    ).save()
    await OuterCircleMember(
        circle=circle.id,
        name=f"{tag}-outer-name",
        organisation=f"{tag}-outer-org",
        role=f"{tag}-outer-role",
        email=f"{tag.lower()}-outer@example.org",
        phone=phone,
    ).save()
    # A volunteer is a person in their own right: their record is not the core member's to remove.
    tree = code_name.split()[-1]
    volunteer = await make_volunteer(cast.north, f"{tree} Volunteer", email=f"{tree.lower()}@volunteers.example")
    await seat(circle, volunteer)
    series = MeetingSeries(
        circle=circle.id,
        frequency="weekly",
        local_time=datetime(2016, 1, 1, 18, 30).time(),
        first_on=date(2016, 1, 4),
        venue=f"{tag}-series-venue",
        created_at=closed_at,
    )
    await series.save()
    for n in range(3):
        starts = closed_at - timedelta(days=30 * (n + 1))
        meeting = Meeting(
            circle=circle.id,
            series=series.id,
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            venue=f"{tag}-meeting-venue",
            minutes=f"{tag}-minutes-{n}",
            minutes_status="approved",
            cancelled_reason=f"{tag}-cancelled" if n == 2 else "",
            cancelled_at=starts if n == 2 else None,
            created_at=starts,
        )
        await meeting.save()
        await Attendance(meeting=meeting.id, volunteer=None, status="attended").save()
        await Attendance(meeting=meeting.id, volunteer=volunteer.id, status="apologies" if n else "attended").save()
    for n, ticks in enumerate((["missed_appointments"], ["new_phone", "unexplained_money"], [])):
        check_in = CheckIn(
            circle=circle.id,
            volunteer=volunteer.id,
            idempotency_key=uuid.uuid4().hex,
            happened_at=closed_at - timedelta(days=10 + n),
            method="phone",
            wellbeing=n + 2,
            indicators=ticks,
            notes=f"{tag}-check-in-{n}",
            created_at=closed_at,
        )
        await check_in.save()
    for severity in ("urgent", "concern", "concern"):
        concern = Concern(
            circle=circle.id,
            severity=severity,
            description=f"{tag}-concern-{severity}",
            indicators=["new_phone"],
            seen_at=closed_at - timedelta(days=50),
            state="closed",
            state_changed_at=closed_at,
            created_at=closed_at - timedelta(days=50),
        )
        await concern.save()
        for kind in ("raised", "closed"):
            await ConcernEvent(concern=concern.id, kind=kind, note=f"{tag}-event-{kind}", at=closed_at).save()
        if severity == "urgent":
            await Escalation(
                concern=concern.id,
                officer=cast.probation.id,
                severity=severity,
                created_at=closed_at,
                action="visit",
                action_notes=f"{tag}-action-notes",
            ).save()
    return SimpleNamespace(core=core, circle=circle, volunteer=volunteer)


@pytest.fixture
async def histories(cast: Any) -> Any:
    now = utcnow()
    expired = await closed_history(
        cast, EXPIRED, now - timedelta(days=CIRCLE_DAYS + 1), code_name="Circle Alder"
    )  # closed six years and a day ago
    kept = await closed_history(
        cast,
        KEPT,
        now - timedelta(days=CIRCLE_DAYS - 1),
        code_name="Circle Birch",
        districts=("ZX9", "ZX8"),
        phone="07700 900999",
    )  # six years less a day ago
    return SimpleNamespace(now=now, expired=expired, kept=kept, cast=cast)


async def dump() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table."""
    tables = Finder().get_table_classes()
    return {t._meta.tablename: await t.select().order_by(t._meta.primary_key) for t in tables}


def text_of(rows: Any) -> str:
    return json.dumps(rows, default=str)


async def figures() -> dict[str, Any]:
    """The counts reports are built on."""
    check_ins = await CheckIn.select(CheckIn.indicators, CheckIn.wellbeing).output(load_json=True)
    concerns = await Concern.select(Concern.severity, Concern.state)
    return {
        "core_members": await CoreMember.count(),
        "by_cohort_gender": Counter((r["cohort"], r["gender"]) for r in await CoreMember.select()),
        "circles": Counter(r["state"] for r in await Circle.select(Circle.state)),
        "transitions": await CircleTransition.count(),
        "meetings": await Meeting.count(),
        "cancelled": await Meeting.count().where(Meeting.cancelled_at.is_not_null()),
        "attendance": Counter(r["status"] for r in await Attendance.select(Attendance.status)),
        "check_ins": len(check_ins),
        "indicator_ticks": Counter(code for r in check_ins for code in r["indicators"]),
        "wellbeing": sum(r["wellbeing"] for r in check_ins),
        "concerns": Counter((r["severity"], r["state"]) for r in concerns),
        "concern_events": await ConcernEvent.count(),
        "escalations": await Escalation.count(),
        "need_changes": await NeedChange.count(),
        "volunteers": await Volunteer.count(),
        "status_changes": await VolunteerStatusChange.count(),
    }


async def run_rows() -> list[dict[str, Any]]:
    return await AuditEvent.select().where(AuditEvent.action == Action.RETENTION_RUN).output(load_json=True)


# --- settings ------------------------------------------------------------------------------------------


async def test_the_defaults_are_six_years_for_closed_circles_and_one_year_for_rejected_applications(cast):
    assert await retention.periods() == {"closed_circle": 2192, "rejected_application": 365}
    assert retention.KINDS["closed_circle"].minimum_days == 2192  # six years, whatever the leap days
    assert retention.KINDS["rejected_application"].minimum_days == 184  # six months, whatever the months


async def test_the_admin_page_shows_each_period_its_default_and_minimum(client, cast):
    await login(client, "ada@example.org")
    page = await client.get("/admin/retention")
    assert page.status_code == 200
    assert "Closed circles" in page.text and "Rejected volunteer applications" in page.text
    assert "2192 days (about 6 years)" in page.text and "184 days (about 6 months)" in page.text
    assert "365 days (about 1 year)" in page.text
    assert "Legal minimum" in page.text and "The job has not run yet" in page.text
    assert 'href="/admin/retention"' in page.text  # in the admin's navigation


async def test_a_period_below_the_legal_minimum_is_refused_with_the_input_kept(client, cast):
    await login(client, "ada@example.org")
    response = await form_post(client, "/admin/retention/closed_circle", {"closed_circle": "2000"})
    assert response.status_code == 400
    assert "This cannot be shorter than 2192 days (about 6 years)" in response.text
    assert "Limitation Act 1980" in response.text
    assert 'value="2000"' in response.text and 'aria-invalid="true"' in response.text
    assert '<a href="#closed_circle">' in response.text  # the error summary links to the field
    short = await form_post(client, "/admin/retention/rejected_application", {"rejected_application": "90"})
    assert short.status_code == 400 and "Equality Act 2010" in short.text and 'value="90"' in short.text
    assert await retention.periods() == {"closed_circle": 2192, "rejected_application": 365}
    assert not await RetentionSetting.exists()
    assert not await AuditEvent.exists().where(AuditEvent.action == Action.RETENTION_CHANGED)


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("36526", "more than 100 years"),
        ("9999999999999999999999", "more than 100 years"),
        ("9" * 5000, "more than 100 years"),
        ("²³", "Enter a whole number of days"),
        ("٣٠٠٠", "Enter a whole number of days"),
        ("", "Enter how many days"),
        ("six years", "Enter a whole number of days"),
        ("2192.5", "Enter a whole number of days"),
        ("-3000", "Enter a whole number of days"),
        ("<script>alert(1)</script>", "Enter a whole number of days"),
    ],
)
async def test_nonsense_periods_are_refused_with_a_message_next_to_the_field(client, cast, typed, message):
    await login(client, "ada@example.org")
    response = await form_post(client, "/admin/retention/closed_circle", {"closed_circle": typed})
    assert response.status_code == 400
    assert message in response.text
    assert "<script>alert(1)</script>" not in response.text
    if typed and "<" not in typed:
        assert f'value="{typed}"' in response.text
    assert await retention.periods() == {"closed_circle": 2192, "rejected_application": 365}


async def test_an_admin_changes_a_period_and_the_change_is_audited_with_old_and_new_days(client, cast):
    await login(client, "ada@example.org")
    response = await form_post(client, "/admin/retention/closed_circle", {"closed_circle": "3,650"})
    assert response.status_code == 303
    assert (await retention.periods())["closed_circle"] == 3650
    row = await AuditEvent.select().where(AuditEvent.action == Action.RETENTION_CHANGED).output(load_json=True).first()
    assert row is not None and row["actor"] == cast.admin.id and row["object_id"] == "closed_circle"
    assert row["detail"] == {"old_days": 2192, "new_days": 3650}
    page = await client.get("/admin/retention")
    assert "3650 days (about 10 years)" in page.text and "Ada Admin" in page.text
    await form_post(client, "/admin/retention/closed_circle", {"closed_circle": "2192"})
    assert (await retention.periods())["closed_circle"] == 2192
    assert await AuditEvent.count().where(AuditEvent.action == Action.RETENTION_CHANGED) == 2
    unchanged = await form_post(client, "/admin/retention/closed_circle", {"closed_circle": "2192"})
    assert unchanged.status_code == 303
    assert await AuditEvent.count().where(AuditEvent.action == Action.RETENTION_CHANGED) == 2


@pytest.mark.parametrize("email", ["cara@example.org", "alice@example.org", "priya@example.org"])
async def test_only_admins_reach_the_retention_page(client, cast, email):
    await login(client, email)
    assert (await client.get("/admin/retention")).status_code == 404
    refused = await form_post(client, "/admin/retention/rejected_application", {"rejected_application": "4000"})
    assert refused.status_code == 404
    assert (await retention.periods())["rejected_application"] == 365
    assert await AuditEvent.exists().where(AuditEvent.action == Action.ACCESS_REFUSED)
    page = await client.get("/")
    assert "/admin/retention" not in page.text


async def test_an_unknown_kind_of_data_is_404(client, cast):
    await login(client, "ada@example.org")
    response = await form_post(client, "/admin/retention/everything", {"everything": "3000"})
    assert response.status_code == 404
    assert not await RetentionSetting.exists()


async def test_a_stored_period_below_the_minimum_is_never_applied(cast):
    await RetentionSetting(name="closed_circle", days=30, updated_at=utcnow()).save()
    assert (await retention.periods())["closed_circle"] == 2192


# --- closed circles ------------------------------------------------------------------------------------


async def test_a_circle_closed_six_years_and_a_day_ago_is_anonymised_and_one_a_day_short_is_not(histories):
    report = await sweep.run(histories.now)
    assert [m.public_id for m in report.core_members] == [str(histories.expired.core.public_id)]
    assert report.counts() == {"core_members": 1, "circles": 1, "volunteers": 0, "accounts": 0}

    gone = await CoreMember.objects().get(CoreMember.id == histories.expired.core.id)
    assert gone.full_name == "Anonymised" and gone.anonymised_at is not None
    assert (gone.known_as, gone.pronouns, gone.offence_details, gone.order_conditions) == ("", "", "", "")
    assert (gone.address_district, gone.volunteer_gender_preference, gone.nrm_reasonable_grounds) == ("", "", "")
    assert gone.languages in ([], "[]")
    assert gone.release_on is None and gone.licence_ends_on is None and gone.order_ends_on is None
    assert gone.nrm_referred_on is None and gone.nrm_conclusive_grounds_on is None
    assert gone.probation_officer is None and not gone.public_order_disqualification
    assert gone.referred_on == date(2015, 10, 1)  # kept to the month, for referrals per month
    assert (gone.cohort, gone.gender, gone.region) == ("survivor", "woman", histories.cast.north.id)
    assert not await RiskConnection.exists().where(RiskConnection.core_member == gone.id)
    assert not await OuterCircleMember.exists().where(OuterCircleMember.circle == histories.expired.circle.id)
    circle = await Circle.objects().get(Circle.id == histories.expired.circle.id)
    assert circle.anonymised_at is not None and circle.covenant_text == "" and circle.venue == ""
    assert circle.state == "closed" and circle.code_name == "Circle Alder"

    kept = await CoreMember.objects().get(CoreMember.id == histories.kept.core.id)
    assert kept.full_name == f"{KEPT}-fullname Okafor" and kept.anonymised_at is None
    assert kept.offence_details == f"{KEPT}-offence-details"
    assert await RiskConnection.exists().where(RiskConnection.core_member == kept.id)
    kept_circle = await Circle.objects().get(Circle.id == histories.kept.circle.id)
    assert kept_circle.anonymised_at is None and kept_circle.covenant_text == f"{KEPT}-covenant"


async def test_nothing_of_the_expired_core_member_is_left_anywhere_in_the_database(histories):
    before = text_of(await dump())
    assert before.count(EXPIRED) > 25 and "ZZ9" in before and "ZZ8" in before  # the canaries are really there
    await sweep.run(histories.now)
    after = text_of(await dump())
    assert EXPIRED not in after
    assert EXPIRED.lower() not in after  # the outer circle member's email address
    assert "ZZ9" not in after and "ZZ8" not in after  # address district, risk connection districts
    assert "07700 900123" not in after
    assert after.count(KEPT) == before.count(KEPT)  # the core member inside the period keeps everything


async def test_the_figures_are_the_same_before_and_after(histories):
    before = await figures()
    assert before["meetings"] == 6 and before["check_ins"] == 6 and before["concerns"][("concern", "closed")] == 4
    await sweep.run(histories.now)
    assert await figures() == before


async def test_audit_rows_are_untouched_and_the_chain_still_verifies(histories, client):
    await login(client, "cara@example.org")
    viewed = await client.get(f"/core-members/{histories.expired.core.public_id}")  # leaves an audit row
    assert viewed.status_code == 200
    before = await AuditEvent.select().order_by(AuditEvent.seq)
    await sweep.run(histories.now)
    after = await AuditEvent.select().order_by(AuditEvent.seq)
    assert after[: len(before)] == before
    assert [r["action"] for r in after[len(before) :]] == [Action.RETENTION_RUN]
    assert (await verify_chain()).ok


async def test_each_run_writes_one_audit_row_with_counts_only(histories):
    await sweep.run(histories.now)
    rows = await run_rows()
    assert len(rows) == 1 and rows[0]["actor"] is None
    detail = rows[0]["detail"]
    assert {k: detail[k] for k in ("core_members", "circles", "volunteers", "accounts")} == {
        "core_members": 1,
        "circles": 1,
        "volunteers": 0,
        "accounts": 0,
    }
    assert str(histories.expired.core.public_id) not in text_of(detail) and "Alder" not in text_of(detail)


async def test_the_dry_run_changes_nothing_and_lists_what_the_run_then_does(histories):
    before = await dump()
    planned = await sweep.dry_run(histories.now)
    assert await dump() == before
    assert planned.dry_run and planned.counts()["core_members"] == 1
    done = await sweep.run(histories.now)
    assert [(m.public_id, m.circles) for m in planned.core_members] == [
        (m.public_id, m.circles) for m in done.core_members
    ]
    assert planned.core_members[0].circles == [(str(histories.expired.circle.public_id), "Circle Alder")]


async def test_a_second_run_changes_nothing(histories):
    await sweep.run(histories.now)
    first = await dump()
    again = await sweep.run(histories.now + timedelta(minutes=5))
    second = await dump()
    assert again.counts() == {"core_members": 0, "circles": 0, "volunteers": 0, "accounts": 0}
    audit_table = AuditEvent._meta.tablename
    assert {k: v for k, v in second.items() if k != audit_table} == {k: v for k, v in first.items() if k != audit_table}
    assert len(second[audit_table]) == len(first[audit_table]) + 1


async def test_a_core_member_referred_again_or_still_on_licence_keeps_everything(cast):
    now = utcnow()
    long_ago = now - timedelta(days=CIRCLE_DAYS + 400)
    again = await closed_history(cast, "AGAIN", long_ago, code_name="Circle Cedar")
    await make_circle(again.core, cast.coordinator, code_name="Circle Cedar Two", state="active")
    licence = await closed_history(
        cast, "LICENCE", long_ago, code_name="Circle Damson", licence_ends_on=(now - timedelta(days=30)).date()
    )
    order = await closed_history(
        cast, "ORDER", long_ago, code_name="Circle Elm", order_ends_on=(now + timedelta(days=3000)).date()
    )
    report = await sweep.run(now)
    assert report.counts()["core_members"] == 0
    for history in (again, licence, order):
        row = await CoreMember.objects().get(CoreMember.id == history.core.id)
        assert row.anonymised_at is None and row.full_name.endswith("-fullname Okafor")


async def test_a_longer_period_set_by_the_admin_is_applied(histories):
    await RetentionSetting(name="closed_circle", days=CIRCLE_DAYS + 10, updated_at=utcnow()).save()
    report = await sweep.run(histories.now)
    assert report.counts()["core_members"] == 0
    assert (await CoreMember.objects().get(CoreMember.id == histories.expired.core.id)).anonymised_at is None


async def test_an_anonymised_core_member_opens_without_errors(histories, client):
    await sweep.run(histories.now)
    await login(client, "cara@example.org")
    page = await client.get(f"/core-members/{histories.expired.core.public_id}")
    assert page.status_code == 200 and "Anonymised" in page.text and EXPIRED not in page.text
    circle = await client.get(f"/circles/{histories.expired.circle.public_id}")
    assert circle.status_code == 200 and EXPIRED not in circle.text


# --- rejected volunteer applications --------------------------------------------------------------------


async def rejected(
    cast: Any,
    name: str,
    rejected_at: datetime,
    *,
    reason: str = "application_not_taken_forward",
    districts: tuple[str, str] = ("ZY5", "ZY6"),
    **kw: Any,
) -> Volunteer:
    volunteer = await make_volunteer(
        cast.north,
        name,
        status="left",
        left_reason=reason,
        status_changed_at=rejected_at,
        phone="07700 900456" if districts[0] == "ZY5" else "07700 900789",
        home_district=districts[0],
        declared_connections=f"{name} knows people in {districts[0]}",
        declared_districts=[districts[1]],
        applied_on=date(2024, 6, 18),
        **kw,
    )
    await VolunteerStatusChange(
        volunteer=volunteer.id, from_status="in_vetting", to_status="left", changed_at=rejected_at, reason=reason
    ).save()
    await SupervisionSession(volunteer=volunteer.id, held_on=date(2024, 7, 1), notes=f"{name} notes").save()
    return volunteer


async def test_a_rejected_application_is_anonymised_after_a_year_and_a_day_not_before(settings, client, cast):
    now = utcnow()
    account = await create_user(settings, "rita@example.org", "volunteer", name="Rita Rejected")
    old = await rejected(cast, "Rita Rejected", now - timedelta(days=APPLICATION_DAYS + 1), user=account)
    recent = await rejected(cast, "Rosa Recent", now - timedelta(days=APPLICATION_DAYS - 1), districts=("ZW5", "ZW6"))
    moved = await rejected(cast, "Mo Moved", now - timedelta(days=3000), reason="moved_away", districts=("ZW5", "ZW6"))
    await OutboxMessage(
        message_id="<1@x>",
        recipient="rita@example.org",
        subject="Welcome",
        body_text="Hello Rita Rejected",
        created_at=now,
        next_attempt_at=now,
    ).save()
    await login(client, "rita@example.org")
    assert await UserSession.exists().where(UserSession.user == account.id)

    planned = await sweep.dry_run(now)
    report = await sweep.run(now)
    assert [v.public_id for v in planned.volunteers] == [v.public_id for v in report.volunteers]
    assert [v.public_id for v in report.volunteers] == [str(old.public_id)]
    assert report.counts()["accounts"] == 1

    row = await Volunteer.objects().get(Volunteer.id == old.id)
    assert row.display_name == "Anonymised" and row.anonymised_at is not None
    assert (row.email, row.phone, row.home_district, row.declared_connections) == ("", "", "", "")
    assert row.region == cast.north.id and row.applied_on == date(2024, 6, 1) and row.gender == "woman"
    assert row.status == "left" and row.left_reason == "application_not_taken_forward"
    user = await User.objects().get(User.id == account.id)
    assert user.email.startswith("anonymised-") and user.email.endswith("@invalid")
    assert user.display_name == "Anonymised" and not user.is_active and user.password_hash == ""
    assert not await UserSession.exists().where(UserSession.user == account.id)
    assert (await client.get("/", follow_redirects=False)).status_code == 303  # signed out
    everything = text_of(await dump())
    for personal in ("Rita", "rita@example.org", "ZY5", "ZY6", "07700 900456"):
        assert personal not in everything

    for untouched in (recent, moved):
        still = await Volunteer.objects().get(Volunteer.id == untouched.id)
        assert still.anonymised_at is None and still.phone == "07700 900789" and still.home_district == "ZW5"
    assert await VolunteerStatusChange.count() == 3  # the steps of every application stay


# --- the schedule and the command line ------------------------------------------------------------------


async def test_the_daily_job_runs_once_a_day_however_many_processes_try(histories, settings):
    results = await asyncio.gather(*(sweep.daily_run(settings, histories.now) for _ in range(3)))
    ran = [r for r in results if r is not None]
    assert len(ran) == 1 and ran[0].counts()["core_members"] == 1
    assert await sweep.daily_run(settings, histories.now + timedelta(hours=1)) is None
    next_day = await sweep.daily_run(settings, histories.now + timedelta(days=2))
    assert next_day is not None and next_day.counts()["core_members"] == 1  # the other one is now due
    assert len(await run_rows()) == 2
    assert "circles.retention" in [job.name for job in all_jobs()]


def cosa_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cosa", *args],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_the_command_line_dry_run_lists_identifiers_and_changes_nothing(histories):
    volunteer = await rejected(histories.cast, "Ruth Rejected", utcnow() - timedelta(days=APPLICATION_DAYS + 2))
    before = await dump()
    result = await asyncio.to_thread(cosa_command, "retention", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Dry run: nothing has been changed." in out
    assert "Would anonymise 1 core member(s) with 1 circle(s)" in out
    assert (
        f"core member {histories.expired.core.public_id}: circle {histories.expired.circle.public_id} (Circle Alder)"
        in out
    )
    assert f"volunteer {volunteer.public_id}" in out
    assert str(histories.kept.core.public_id) not in out
    for personal in (EXPIRED, KEPT, "Okafor", "Ruth", "ZZ9"):
        assert personal not in out and personal not in result.stderr
    assert await dump() == before


async def test_the_command_line_run_anonymises_now(histories):
    result = await asyncio.to_thread(cosa_command, "retention", "--run")
    assert result.returncode == 0, result.stderr
    assert "Anonymised 1 core member(s) with 1 circle(s)" in result.stdout
    assert (await CoreMember.objects().get(CoreMember.id == histories.expired.core.id)).anonymised_at is not None
    rows = await run_rows()
    assert len(rows) == 1 and rows[0]["detail"]["via"] == "cli"


def due_figures(html: str) -> list[str]:
    """The figures of the "Waiting for the next run" list."""
    block = html.split('id="retention-due"', 1)[1].split("</dl>", 1)[0]
    return re.findall(r"<dd>(\d+)</dd>", block)


async def test_the_admin_page_shows_the_last_run_and_what_is_waiting(histories, client):
    await login(client, "ada@example.org")
    waiting = await client.get("/admin/retention")
    assert due_figures(waiting.text) == ["1", "1", "0"]
    await sweep.run(histories.now)
    page = await client.get("/admin/retention")
    assert "The job has not run yet" not in page.text and "the daily schedule" in page.text
    assert due_figures(page.text) == ["0", "0", "0"]


async def test_a_staff_account_linked_to_a_rejected_application_is_left_to_an_admin(cast):
    now = utcnow()
    linked = await rejected(cast, "Cara Applicant", now - timedelta(days=APPLICATION_DAYS + 5), user=cast.coordinator)
    report = await sweep.run(now)
    assert [v.public_id for v in report.volunteers] == [str(linked.public_id)] and report.counts()["accounts"] == 0
    staff = await User.objects().get(User.id == cast.coordinator.id)
    assert staff.is_active and staff.email == "cara@example.org" and staff.display_name == "Cara Coordinator"
