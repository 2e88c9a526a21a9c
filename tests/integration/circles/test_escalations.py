"""The probation officer's inbox and the page the emailed link opens: look (GET), then acknowledge, record the
action and close (each a POST); only their own cases' alerts; volunteers never read the officer's notes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from circles.concerns import raise_concern
from circles.tables import Concern, ConcernEvent, Escalation
from cosa.clock import utcnow
from cosa.tables import AuditEvent
from cosa.web import make_environment
from tests.integration.conftest import PASSWORD, finish_second_factor, form_post, login


async def escalate(settings: Any, by: Any, circle: Any, *, minutes_ago: int = 0, description: str = "") -> Any:
    """An urgent concern raised `minutes_ago` (escalated at once); returns the Escalation row."""
    now = utcnow() - timedelta(minutes=minutes_ago)
    concern_id = await raise_concern(
        settings,
        make_environment(),
        by=by,
        circle={"id": circle.id, "code_name": circle.code_name},
        severity="urgent",
        description=description or "Two men waiting outside the hostel.",
        indicators=[],
        seen_at=now - timedelta(minutes=5),
        now=now,
    )
    concern = await Concern.select(Concern.id).where(Concern.public_id == concern_id).first()
    assert concern is not None
    row = await Escalation.select().where(Escalation.concern == concern["id"]).first()
    assert row is not None
    return row


def page(escalation: Any) -> str:
    return f"/escalations/{escalation['public_id']}"


async def audit_actions(object_id: Any) -> list[str]:
    rows = await AuditEvent.select(AuditEvent.action).where(AuditEvent.object_id == str(object_id))
    return [row["action"] for row in rows]


async def acknowledged(client: Any, escalation: Any) -> None:
    response = await form_post(client, page(escalation) + "/acknowledge")
    assert response.status_code == 303, response.text


async def test_the_inbox_lists_only_the_officers_own_alerts_oldest_waiting_first(client, settings, programme):
    newer = await escalate(settings, programme.volunteer_a1, programme.circle_a, minutes_ago=12)
    older = await escalate(settings, programme.coordinator, programme.circle_a, minutes_ago=3 * 60)
    await escalate(settings, programme.volunteer_b, programme.circle_b, minutes_ago=5)
    await login(client, "priya@example.org")
    response = await client.get("/escalations")
    assert response.status_code == 200
    assert "Circle Hazel" not in response.text
    assert response.text.index(str(older["public_id"])) < response.text.index(str(newer["public_id"]))
    assert "12 minutes ago" in response.text and "3 hours ago" in response.text
    # The urgent deadline is 30 minutes: the three-hour-old alert is overdue, the newer one not yet.
    assert response.text.count("Overdue for acknowledgement") == 1
    assert "Waiting for you to acknowledge (2)" in response.text


async def test_another_officer_does_not_see_the_alert_and_is_refused_it(client, settings, programme):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a)
    await login(client, "oscar@example.org")
    inbox = await client.get("/escalations")
    assert inbox.status_code == 200 and "Circle Rowan" not in inbox.text and "No open alerts" in inbox.text
    assert (await client.get(page(escalation))).status_code == 404
    for step in ("acknowledge", "action", "close"):
        response = await form_post(client, f"{page(escalation)}/{step}", {"action": "home_visit"})
        assert response.status_code == 404, step
    refused = await AuditEvent.select(AuditEvent.detail).where(
        AuditEvent.action == "access.refused",
        AuditEvent.object_type == "escalation",
        AuditEvent.object_id == str(escalation["public_id"]),
        AuditEvent.actor == programme.probation_other.id,
    )
    assert len(refused) == 4
    row = await Escalation.select().where(Escalation.id == escalation["id"]).first()
    assert row is not None and row["acknowledged_at"] is None and row["action"] == ""


async def test_opening_the_link_shows_the_alert_and_never_acknowledges_it(client, settings, programme):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a, description="A <b>new</b> phone")
    await login(client, "priya@example.org")
    for _ in range(2):  # a mail scanner, then the officer
        response = await client.get(page(escalation))
        assert response.status_code == 200
    assert "Circle Rowan" in response.text and "Daniel Mensah" in response.text
    assert "A &lt;b&gt;new&lt;/b&gt; phone" in response.text
    assert ">Acknowledge</button>" in response.text and 'name="action"' not in response.text
    row = await Escalation.select().where(Escalation.id == escalation["id"]).first()
    assert row is not None and row["acknowledged_at"] is None and row["next_notice_at"] is not None
    concern = await Concern.select(Concern.state).where(Concern.id == escalation["concern"]).first()
    assert concern == {"state": "escalated"}
    assert (await audit_actions(escalation["public_id"])).count("escalation.viewed") == 2


async def test_acknowledging_records_who_and_when_and_stops_reminders(client, settings, programme):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a)
    await login(client, "priya@example.org")
    response = await form_post(client, page(escalation) + "/acknowledge")
    assert response.status_code == 303 and response.headers["location"] == page(escalation)
    row = await Escalation.select().where(Escalation.id == escalation["id"]).first()
    assert row is not None and row["acknowledged_by"] == programme.probation.id and row["next_notice_at"] is None
    concern = await Concern.select(Concern.state).where(Concern.id == escalation["concern"]).first()
    assert concern == {"state": "acknowledged"}
    assert "escalation.acknowledged" in await audit_actions(escalation["public_id"])
    kinds = [
        e["kind"] for e in await ConcernEvent.select(ConcernEvent.kind).where(ConcernEvent.concern == row["concern"])
    ]
    assert kinds[-1] == "acknowledged"
    shown = await client.get(page(escalation))
    assert "Reminders about this alert have stopped." in shown.text
    assert "Acknowledged by probation" in shown.text and 'name="action"' in shown.text
    assert ">Acknowledge</button>" not in shown.text


async def test_acknowledging_twice_is_refused_and_changes_nothing(client, settings, programme):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a)
    await login(client, "priya@example.org")
    await acknowledged(client, escalation)
    first = await Escalation.select(Escalation.acknowledged_at).where(Escalation.id == escalation["id"]).first()
    again = await form_post(client, page(escalation) + "/acknowledge")
    assert again.status_code == 400 and "This alert was already acknowledged." in again.text
    assert await Escalation.select(Escalation.acknowledged_at).where(Escalation.id == escalation["id"]).first() == first
    assert (await audit_actions(escalation["public_id"])).count("escalation.acknowledged") == 1


async def test_an_action_before_acknowledging_is_refused(client, settings, programme):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a)
    await login(client, "priya@example.org")
    response = await form_post(client, page(escalation) + "/action", {"action": "home_visit", "notes": ""})
    assert response.status_code == 400
    assert "Acknowledge the alert before recording what was done." in response.text
    row = await Escalation.select().where(Escalation.id == escalation["id"]).first()
    assert row is not None and row["action"] == "" and row["actioned_at"] is None


async def test_recording_the_action_checks_the_choice_and_keeps_what_was_typed(client, settings, programme):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a)
    await login(client, "priya@example.org")
    await acknowledged(client, escalation)
    nothing = await form_post(client, page(escalation) + "/action", {"notes": "Typed before choosing"})
    assert nothing.status_code == 400 and "Choose what was done." in nothing.text
    assert "Typed before choosing" in nothing.text
    other = await form_post(client, page(escalation) + "/action", {"action": "other", "notes": "  "})
    assert other.status_code == 400 and "Say what was done." in other.text
    unknown = await form_post(client, page(escalation) + "/action", {"action": "shrug"})
    assert unknown.status_code == 400 and "Choose what was done." in unknown.text
    row = await Escalation.select().where(Escalation.id == escalation["id"]).first()
    assert row is not None and row["actioned_at"] is None

    done = await form_post(
        client, page(escalation) + "/action", {"action": "police_informed", "notes": "Rang the MSHT team."}
    )
    assert done.status_code == 303
    row = await Escalation.select().where(Escalation.id == escalation["id"]).first()
    assert row is not None and row["action"] == "police_informed" and row["action_notes"] == "Rang the MSHT team."
    concern = await Concern.select(Concern.state).where(Concern.id == escalation["concern"]).first()
    assert concern == {"state": "actioned"}
    assert "escalation.actioned" in await audit_actions(escalation["public_id"])
    shown = await client.get(page(escalation))
    assert "Police informed" in shown.text and "Rang the MSHT team." in shown.text and ">Close</button>" in shown.text


async def test_closing_needs_an_action_then_closes_the_alert_and_the_concern(client, settings, programme):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a)
    await login(client, "priya@example.org")
    await acknowledged(client, escalation)
    early = await form_post(client, page(escalation) + "/close")
    assert early.status_code == 400 and "Record what was done before you close this alert." in early.text
    await form_post(client, page(escalation) + "/action", {"action": "home_visit", "notes": ""})
    closed = await form_post(client, page(escalation) + "/close", {"close_note": "Safe at the address."})
    assert closed.status_code == 303
    row = await Escalation.select().where(Escalation.id == escalation["id"]).first()
    assert row is not None and row["closed_at"] is not None
    concern = await Concern.select(Concern.state, Concern.public_id).where(Concern.id == escalation["concern"]).first()
    assert concern is not None and concern["state"] == "closed"
    assert "concern.closed" in await audit_actions(concern["public_id"])
    shown = await client.get(page(escalation))
    assert "The alert is closed." in shown.text and 'name="action"' not in shown.text
    again = await form_post(client, page(escalation) + "/close")
    assert again.status_code == 400 and "This concern is already closed." in again.text
    late = await form_post(client, page(escalation) + "/action", {"action": "recall"})
    assert late.status_code == 400 and "This alert is closed." in late.text
    inbox = await client.get("/escalations")
    assert str(escalation["public_id"]) not in inbox.text
    assert str(escalation["public_id"]) in (await client.get("/escalations?state=closed")).text


async def test_coordinators_and_volunteers_cannot_open_escalation_pages(client, settings, programme):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a)
    for email in ("cara@example.org", "alice@example.org"):
        await login(client, email)
        assert (await client.get("/escalations")).status_code == 404, email
        assert (await client.get(page(escalation))).status_code == 404, email
        assert (await form_post(client, page(escalation) + "/acknowledge")).status_code == 404, email
    row = await Escalation.select().where(Escalation.id == escalation["id"]).first()
    assert row is not None and row["acknowledged_at"] is None


async def test_the_emailed_link_asks_for_sign_in_and_comes_back(client, settings, programme):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a)
    response = await client.get(page(escalation), follow_redirects=False)
    assert response.status_code in (302, 303)
    assert f"next=%2Fescalations%2F{escalation['public_id']}" in response.headers["location"]
    login_page = await client.get(response.headers["location"])
    assert f'value="{page(escalation)}"' in login_page.text  # the sign-in form carries it on
    signed_in = await form_post(
        client, "/login", {"email": "priya@example.org", "password": PASSWORD, "next": page(escalation)}
    )
    signed_in = await finish_second_factor(client, signed_in, "priya@example.org")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == page(escalation)


async def test_the_volunteer_sees_probation_acknowledged_but_not_the_officers_notes(
    client, make_client, settings, programme
):
    escalation = await escalate(settings, programme.volunteer_a1, programme.circle_a)
    await login(client, "priya@example.org")
    await acknowledged(client, escalation)
    canary = "OFFICER-NOTES-CANARY-7f3a"
    done = await form_post(client, page(escalation) + "/action", {"action": "other", "notes": canary})
    assert done.status_code == 303
    concern = await Concern.select(Concern.public_id).where(Concern.id == escalation["concern"]).first()
    assert concern is not None
    alice = await make_client()
    await login(alice, "alice@example.org")
    response = await alice.get(f"/concerns/{concern['public_id']}")
    assert response.status_code == 200
    assert "Acknowledged by probation" in response.text and "Probation recorded what they did" in response.text
    assert canary not in response.text and "(Other)" not in response.text
