"""Concerns: raised by volunteers or from a check-in, urgent ones straight to probation, triage, and the outbox."""

from __future__ import annotations

import re
import uuid

import pytest

from circles import concerns
from circles.indicators import ensure_built_in
from circles.tables import CheckIn, Concern, ConcernEvent, Escalation
from cosa import outbox
from cosa.clock import utcnow
from cosa.i18n import LONDON
from cosa.tables import OutboxMessage
from cosa.web import make_environment
from tests.integration.conftest import form_post, login


def now_local() -> str:
    return utcnow().astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


async def raise_by_form(client, circle, **fields):
    data = {"severity": "concern", "description": "Saw him with the man from the car wash", "seen_at": now_local()}
    data.update(fields)
    return await form_post(client, f"/circles/{circle.public_id}/concerns/new", data)


async def test_an_urgent_concern_goes_to_the_officer_and_coordinator_at_once(
    mail_client, mail_settings, inbox, programme
):
    await login(mail_client, "alice@example.org")
    form = await mail_client.get(f"/circles/{programme.circle_a.public_id}/concerns/new")
    assert "call 999 first" in form.text and 'href="tel:999"' in form.text
    response = await raise_by_form(mail_client, programme.circle_a, severity="urgent")
    assert response.status_code == 303, re.findall(r'<a href="#[^"]+">([^<]+)</a>', response.text)
    concern = await Concern.objects().first()
    escalation = await Escalation.objects().first()
    assert concern.state == "escalated" and escalation.officer == programme.probation.id
    await outbox.deliver_due(mail_settings)
    to_officer = inbox.to("priya@example.org")
    assert len(to_officer) == 1 and len(inbox.to("cara@example.org")) == 1
    body = inbox.body(to_officer[0])
    assert "Circle Rowan" in body and f"/escalations/{escalation.public_id}" in body
    for private in ("Daniel", "Mensah", "car wash"):
        assert private not in body and private not in str(to_officer[0]["Subject"])


async def test_a_concern_waits_for_the_coordinators_triage(client, make_client, programme):
    await login(client, "alice@example.org")
    await raise_by_form(client, programme.circle_a)
    concern = await Concern.objects().first()
    assert concern.state == "raised" and not await Escalation.exists()
    coordinator = await make_client()
    await login(coordinator, "cara@example.org")
    no_reason = await form_post(coordinator, f"/concerns/{concern.public_id}/triage", {"decision": "keep", "note": ""})
    assert no_reason.status_code == 400 and "Say why" in no_reason.text
    assert (
        await form_post(coordinator, f"/concerns/{concern.public_id}/triage", {"decision": "escalate"})
    ).status_code == 303
    await concern.refresh()
    assert concern.state == "escalated" and await Escalation.exists()
    again = await form_post(coordinator, f"/concerns/{concern.public_id}/triage", {"decision": "escalate"})
    assert again.status_code == 400 and "already been looked at" in again.text


async def test_bad_input_is_explained_and_kept(client, programme):
    await login(client, "alice@example.org")
    response = await raise_by_form(client, programme.circle_a, severity="", description="", seen_at="not a time")
    assert response.status_code == 400
    assert "Choose how serious it is." in response.text and "Describe what you saw" in response.text
    other = await raise_by_form(client, programme.circle_b)
    assert other.status_code == 404  # not her circle
    assert await Concern.count() == 0


async def test_the_concern_and_its_outbox_rows_commit_together(settings, programme):
    circle = {"id": programme.circle_a.id, "code_name": "Circle Rowan"}
    with pytest.raises(RuntimeError):
        from cosa.db import write_transaction

        async with write_transaction():
            await concerns.raise_concern(
                settings,
                make_environment(),
                by=programme.volunteer_a1,
                circle=circle,
                severity="urgent",
                description="x",
                indicators=[],
                seen_at=utcnow(),
                now=utcnow(),
            )
            raise RuntimeError("the process died before commit")
    assert await Concern.count() == 0 and await Escalation.count() == 0 and await OutboxMessage.count() == 0


async def test_a_check_in_indicator_raises_a_concern_the_volunteer_can_add_to(client, programme):
    await ensure_built_in()
    await login(client, "alice@example.org")
    data = {
        "circle": str(programme.circle_a.public_id),
        "idempotency_key": uuid.uuid4().hex,
        "happened_at": now_local(),
        "method": "in_person",
        "indicators": ["went_missing", "unexplained_money"],
    }
    response = await form_post(client, "/check-ins", data)
    assert response.status_code == 303 and "/concerns/" in response.headers["location"]
    concern = await Concern.objects().first()
    assert concern.severity == "concern" and concern.indicators in (["went_missing"], '["went_missing"]')
    assert concern.check_in == (await CheckIn.objects().first()).id
    page = await client.get(response.headers["location"])
    assert "raised a concern with your coordinator" in page.text
    added = await form_post(client, f"/concerns/{concern.public_id}/add", {"more": "He came back on Tuesday."})
    assert added.status_code == 303
    assert await ConcernEvent.exists().where(ConcernEvent.kind == "added_to")


async def test_volunteers_see_only_their_own_concerns(client, make_client, programme):
    await login(client, "alice@example.org")
    await raise_by_form(client, programme.circle_a)
    concern = await Concern.objects().first()
    bob = await make_client()
    await login(bob, "bob@example.org")
    assert (await bob.get(f"/concerns/{concern.public_id}")).status_code == 404
    officer = await make_client()
    await login(officer, "priya@example.org")
    assert (await officer.get(f"/concerns/{concern.public_id}")).status_code == 404  # probation use the inbox
