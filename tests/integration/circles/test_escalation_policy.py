"""Escalations climb on schedule until acknowledged (officer, duty inbox, programme lead), each notice exactly
once however many processes run the job; the administrator's page that sets the policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from circles import concerns
from circles.escalation_jobs import add_working_time, re_escalate
from circles.tables import Circle, Concern, ConcernEvent, Escalation, EscalationPolicy
from cosa import outbox
from cosa.clock import utcnow
from cosa.i18n import LONDON
from cosa.tables import AuditEvent, OutboxMessage
from cosa.web import make_environment
from tests.integration.conftest import form_post, login

JINJA = make_environment()
DUTY = "duty@probation.example"
LEAD = "lead@cosa.example"
OFFICER = "priya@example.org"
MINUTE = timedelta(minutes=1)


async def set_policy(severity: str, **fields: Any) -> None:
    values: dict[str, Any] = {
        "acknowledge_within_minutes": 30,
        "lead_after_minutes": 30,
        "action_within_minutes": 240,
        "working_hours_only": False,
        "duty_inbox": DUTY,
        "programme_lead": LEAD,
    }
    values.update(fields)
    await EscalationPolicy(severity=severity, **values).save()


async def raise_urgent(programme: Any, settings: Any, now: datetime) -> dict[str, Any]:
    """A volunteer's urgent concern about circle A (Daniel Mensah's): it goes to Priya, his officer, at once."""
    circle = await Circle.select().where(Circle.id == programme.circle_a.id).first()
    await concerns.raise_concern(
        settings,
        JINJA,
        by=programme.volunteer_a1,
        circle=circle,
        severity="urgent",
        description="Two men waited outside the house and he left with them.",
        indicators=[],
        seen_at=now,
        now=now,
    )
    return await the_escalation()


async def the_escalation() -> dict[str, Any]:
    escalation = await Escalation.select().first()
    assert escalation is not None
    return escalation


async def escalation_mail(since: int = 0) -> list[dict[str, Any]]:
    rows = await OutboxMessage.select().where(OutboxMessage.kind.like("escalation_%")).order_by(OutboxMessage.id)
    return rows[since:]


async def run_twice_at_once(settings: Any, now: datetime) -> int:
    """Two app processes run the job at the same moment."""
    return sum(await asyncio.gather(*(re_escalate(settings, JINJA, now) for _ in range(2))))


def assert_no_personal_details(inbox: Any, messages: list[Any]) -> None:
    for message in messages:
        body = inbox.body(message)
        assert "Circle Rowan" in body
        for secret in ("Daniel", "Mensah", "Two men"):
            assert secret not in body and secret not in str(message["Subject"])


async def test_an_unacknowledged_urgent_alert_goes_to_the_duty_inbox_then_the_programme_lead_once(
    programme, mail_settings, inbox
):
    await set_policy("urgent")
    t0 = utcnow()
    await raise_urgent(programme, mail_settings, t0)
    assert [m["recipient"] for m in await escalation_mail()] == [OFFICER]

    assert await re_escalate(mail_settings, JINJA, t0 + 29 * MINUTE) == 0
    assert await run_twice_at_once(mail_settings, t0 + 31 * MINUTE) == 2
    assert await re_escalate(mail_settings, JINJA, t0 + 32 * MINUTE) == 0
    assert sorted(m["recipient"] for m in await escalation_mail(1)) == [DUTY, OFFICER]
    escalation = await the_escalation()
    assert escalation["level"] == 1
    assert escalation["next_notice_at"] == t0 + 61 * MINUTE

    assert await re_escalate(mail_settings, JINJA, t0 + 60 * MINUTE) == 0
    assert await run_twice_at_once(mail_settings, t0 + 61 * MINUTE) == 1
    assert await re_escalate(mail_settings, JINJA, t0 + 5 * timedelta(hours=1)) == 0
    assert [m["recipient"] for m in await escalation_mail(3)] == [LEAD]
    assert (await the_escalation())["level"] == 2

    await outbox.deliver_due(mail_settings, t0 + 6 * timedelta(hours=1))
    officer_mail = inbox.to(OFFICER)
    assert [str(m["Subject"]).startswith("Reminder:") for m in officer_mail] == [False, True]
    assert len(inbox.to(DUTY)) == 1 and len(inbox.to(LEAD)) == 1
    assert_no_personal_details(inbox, officer_mail + inbox.to(DUTY) + inbox.to(LEAD))
    link = f"/escalations/{escalation['public_id']}"
    assert all(link in inbox.body(m) for m in inbox.to(DUTY) + inbox.to(LEAD))
    # Every notice is on the concern's timeline and in the audit trail.
    assert await ConcernEvent.count().where(ConcernEvent.kind == "notified") == 4
    assert await AuditEvent.count().where(AuditEvent.action == concerns.ConcernAction.NOTIFIED) == 4


async def test_acknowledging_stops_further_notices(programme, mail_settings):
    await set_policy("urgent")
    t0 = utcnow()
    await raise_urgent(programme, mail_settings, t0)
    assert await re_escalate(mail_settings, JINJA, t0 + 31 * MINUTE) == 2
    await concerns.acknowledge(by=programme.probation, escalation=await the_escalation(), now=t0 + 40 * MINUTE)
    for minutes in (61, 120, 240):  # (its action is due 4 hours after acknowledging: a different reminder)
        assert await re_escalate(mail_settings, JINJA, t0 + minutes * MINUTE) == 0
    assert LEAD not in [m["recipient"] for m in await escalation_mail()]


async def test_an_alert_acknowledged_in_time_never_goes_further(programme, mail_settings):
    await set_policy("urgent")
    t0 = utcnow()
    await raise_urgent(programme, mail_settings, t0)
    await concerns.acknowledge(by=programme.probation, escalation=await the_escalation(), now=t0 + 10 * MINUTE)
    await concerns.record_action(
        by=programme.probation,
        escalation=await the_escalation(),
        action="home_visit",
        notes="",
        now=t0 + 20 * MINUTE,
    )
    for minutes in (31, 61, 24 * 60):
        assert await re_escalate(mail_settings, JINJA, t0 + minutes * MINUTE) == 0
    assert len(await escalation_mail()) == 1


async def test_an_acknowledged_alert_with_no_action_reminds_the_officer_once(programme, mail_settings, inbox):
    await set_policy("urgent", action_within_minutes=240)
    t0 = utcnow()
    await raise_urgent(programme, mail_settings, t0)
    acknowledged = t0 + 10 * MINUTE
    await concerns.acknowledge(by=programme.probation, escalation=await the_escalation(), now=acknowledged)

    assert await re_escalate(mail_settings, JINJA, acknowledged + 239 * MINUTE) == 0
    assert await run_twice_at_once(mail_settings, acknowledged + 241 * MINUTE) == 1
    assert await re_escalate(mail_settings, JINJA, acknowledged + 300 * MINUTE) == 0
    assert await re_escalate(mail_settings, JINJA, acknowledged + 3 * timedelta(days=1)) == 0
    assert [m["recipient"] for m in await escalation_mail(1)] == [OFFICER]

    await outbox.deliver_due(mail_settings, acknowledged + 4 * timedelta(days=1))
    reminder = inbox.to(OFFICER)[-1]
    assert str(reminder["Subject"]).strip() == "Reminder: record what was done about the Urgent alert for Circle Rowan"
    assert "No action has been recorded yet" in inbox.body(reminder)
    assert_no_personal_details(inbox, [reminder])


async def test_a_concern_sent_on_friday_evening_with_working_days_falls_due_on_monday(programme, mail_settings):
    await set_policy(
        "concern", acknowledge_within_minutes=1440, lead_after_minutes=None, programme_lead="", working_hours_only=True
    )
    friday = datetime(2027, 1, 15, 17, 0, tzinfo=LONDON)
    monday = datetime(2027, 1, 18, 17, 0, tzinfo=LONDON)
    circle = await Circle.select().where(Circle.id == programme.circle_a.id).first()
    public_id = await concerns.raise_concern(
        mail_settings,
        JINJA,
        by=programme.volunteer_a1,
        circle=circle,
        severity="concern",
        description="He has a second phone he will not talk about.",
        indicators=[],
        seen_at=friday,
        now=friday,
    )
    concern = await Concern.select().where(Concern.public_id == public_id).first()
    await concerns.triage(
        mail_settings, JINJA, by=programme.coordinator, concern=concern, escalate_it=True, note="", now=friday
    )

    assert await re_escalate(mail_settings, JINJA, friday + timedelta(days=1, minutes=1)) == 0  # Saturday
    assert (await the_escalation())["next_notice_at"] == monday
    assert await re_escalate(mail_settings, JINJA, monday - MINUTE) == 0
    assert await run_twice_at_once(mail_settings, monday + MINUTE) == 2
    assert sorted(m["recipient"] for m in await escalation_mail(1)) == [DUTY, OFFICER]
    escalation = await the_escalation()
    assert escalation["level"] == 1 and escalation["next_notice_at"] is None  # no programme lead step


# add_working_time: a pure function, so no database is needed.


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (london(2027, 1, 15, 17, 0), 1440, london(2027, 1, 18, 17, 0)),  # Friday evening -> Monday evening
        (london(2027, 1, 18, 9, 0), 1440, london(2027, 1, 19, 9, 0)),  # a weekday: one plain day
        (london(2027, 1, 14, 12, 0), 2880, london(2027, 1, 18, 12, 0)),  # Thursday + 2 days -> Monday
        (london(2027, 1, 16, 10, 0), 60, london(2027, 1, 18, 1, 0)),  # Saturday: the clock starts on Monday
        (london(2027, 1, 15, 23, 30), 30, london(2027, 1, 16, 0, 0)),  # due at the very end of Friday
        (london(2027, 1, 15, 23, 30), 31, london(2027, 1, 18, 0, 1)),
        (london(2027, 3, 26, 17, 0), 1440, london(2027, 3, 29, 17, 0)),  # clocks go forward that Sunday
        (london(2027, 10, 29, 17, 0), 1440, london(2027, 11, 1, 17, 0)),  # and back
        (london(2027, 1, 15, 17, 0), 0, london(2027, 1, 15, 17, 0)),
    ],
)
def test_working_time_skips_saturday_and_sunday(start, minutes, due):
    assert add_working_time(start, timedelta(minutes=minutes)) == due


def test_working_time_answers_in_the_time_zone_it_was_given():
    start = datetime(2027, 3, 26, 17, 0, tzinfo=UTC)  # 17:00 GMT, Friday
    due = add_working_time(start, timedelta(days=1))
    assert due.tzinfo is UTC
    assert due == datetime(2027, 3, 29, 16, 0, tzinfo=UTC)  # 17:00 BST, Monday


# The administrator's page.

URL = "/admin/escalation-policy"
GOOD = {
    "urgent-acknowledge": "20",
    "urgent-lead_after": "45",
    "urgent-action_within": "180",
    "urgent-duty_inbox": "Duty@Probation.example",
    "urgent-programme_lead": LEAD,
}


async def test_the_page_shows_the_defaults_until_a_policy_is_saved(client, cast):
    await login(client, "ada@example.org")
    response = await client.get(URL)
    assert response.status_code == 200
    assert 'name="urgent-acknowledge" type="text" value="30"' in response.text
    assert 'name="concern-acknowledge" type="text" value="1440"' in response.text
    assert response.text.count("Built-in default") == 2
    assert 'href="/admin/escalation-policy"' in response.text  # in the admin's navigation


async def test_an_admin_saves_a_policy_and_it_is_audited(client, cast):
    await login(client, "ada@example.org")
    response = await form_post(client, f"{URL}/urgent", GOOD)
    assert response.status_code == 303
    policy = await concerns.policy_for("urgent")
    assert policy == concerns.Policy(
        "urgent", timedelta(minutes=20), timedelta(minutes=45), timedelta(minutes=180), False, DUTY, LEAD
    )
    page = (await client.get(URL)).text
    assert "The policy for urgent alerts is saved." in page
    assert page.count("Built-in default") == 1
    assert f"the duty inbox ({DUTY}) is told" in page

    # Saving again replaces it, here switching the programme lead off.
    changed = {**GOOD, "urgent-lead_after": "", "urgent-programme_lead": ""}
    assert (await form_post(client, f"{URL}/urgent", changed)).status_code == 303
    assert await EscalationPolicy.count() == 1
    policy = await concerns.policy_for("urgent")
    assert policy.lead_after is None and policy.programme_lead == "" and policy.duty_inbox == DUTY
    audits = await AuditEvent.select().where(AuditEvent.action == "escalation_policy.saved").output(load_json=True)
    assert [a["actor"] for a in audits] == [cast.admin.id, cast.admin.id]
    assert audits[1]["detail"]["before"]["programme_lead"] == LEAD
    assert audits[1]["detail"]["after"]["programme_lead"] == ""


async def test_urgent_alerts_cannot_wait_longer_than_four_hours_or_over_a_weekend(client, cast):
    await login(client, "ada@example.org")
    response = await form_post(client, f"{URL}/urgent", {**GOOD, "urgent-acknowledge": "300"})
    assert response.status_code == 400
    assert "Urgent alerts must move fast" in response.text and "240" in response.text
    assert 'value="300"' in response.text and 'value="Duty@Probation.example"' in response.text  # kept
    assert await EscalationPolicy.count() == 0
    # Nor pause for the weekend.
    response = await form_post(client, f"{URL}/urgent", {**GOOD, "urgent-working_hours": "yes"})
    assert response.status_code == 400 and "weekends included" in response.text
    assert await EscalationPolicy.count() == 0
    # A concern may wait a day or more, counting working days only.
    concern = {k.replace("urgent-", "concern-"): v for k, v in GOOD.items()}
    concern |= {"concern-acknowledge": "2880", "concern-working_hours": "yes"}
    assert (await form_post(client, f"{URL}/concern", concern)).status_code == 303
    policy = await concerns.policy_for("concern")
    assert policy.acknowledge_within == timedelta(days=2) and policy.working_hours_only
    assert "Saturdays and Sundays do not count." in (await client.get(URL)).text


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"urgent-acknowledge": ""}, "urgent-acknowledge", "Enter how many minutes probation have to acknowledge"),
        ({"urgent-acknowledge": "half an hour"}, "urgent-acknowledge", "Enter a whole number."),
        ({"urgent-acknowledge": "2"}, "urgent-acknowledge", "Enter a number from 5 to 10080."),
        ({"urgent-action_within": "99999"}, "urgent-action_within", "Enter a number from 5 to 20160."),
        ({"urgent-duty_inbox": "duty at probation"}, "urgent-duty_inbox", "in the right format"),
        ({"urgent-programme_lead": ""}, "urgent-programme_lead", "Enter the programme lead&#39;s email address"),
        ({"urgent-lead_after": ""}, "urgent-lead_after", "Enter after how many minutes the programme lead is told"),
    ],
)
async def test_a_policy_with_a_mistake_is_refused_with_the_reason(client, cast, change, field, message):
    await login(client, "ada@example.org")
    response = await form_post(client, f"{URL}/urgent", {**GOOD, **change})
    assert response.status_code == 400
    assert message in response.text
    assert f'href="#{field}"' in response.text  # the error summary links to the field
    assert await EscalationPolicy.count() == 0


@pytest.mark.parametrize("email", ["cara@example.org", "priya@example.org", "alice@example.org"])
async def test_only_admins_reach_the_policy(client, cast, email):
    await login(client, email)
    assert (await client.get(URL)).status_code == 404
    assert (await form_post(client, f"{URL}/urgent", GOOD)).status_code == 404
    assert await EscalationPolicy.count() == 0


async def test_there_is_no_policy_for_information_only_concerns(client, cast):
    await login(client, "ada@example.org")
    response = await form_post(client, f"{URL}/info", {"info-acknowledge": "30", "info-action_within": "60"})
    assert response.status_code == 404
    assert await EscalationPolicy.count() == 0
