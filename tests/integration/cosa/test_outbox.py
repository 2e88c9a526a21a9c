"""The outbox delivers through a real SMTP server, retries while it is down, and never drops a message."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from cosa import outbox
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.tables import OutboxMessage, OutboxStatus
from tests.integration.conftest import free_port


async def queue(settings, n=1, now=None):
    async with write_transaction():
        for i in range(n):
            await outbox.enqueue(
                settings,
                recipient=f"officer{i}@example.org",
                subject="Subject",
                body_text="Body",
                kind="test",
                now=now or utcnow(),
            )


async def test_a_queued_message_is_delivered_once_with_its_message_id(mail_settings, inbox):
    await queue(mail_settings)
    assert (await outbox.deliver_due(mail_settings)).sent == 1
    assert (await outbox.deliver_due(mail_settings)).sent == 0
    row = await OutboxMessage.select().first()
    assert row["status"] == OutboxStatus.sent.value
    assert [m["Message-ID"] for m in inbox.messages] == [row["message_id"]]


async def test_a_rolled_back_change_sends_nothing(mail_settings, inbox):
    try:
        async with write_transaction():
            await outbox.enqueue(
                mail_settings, recipient="x@example.org", subject="S", body_text="B", kind="t", now=utcnow()
            )
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert await OutboxMessage.count() == 0


async def test_while_the_mail_server_is_down_messages_wait_and_then_all_arrive_once(settings, inbox):
    down = dataclasses.replace(settings, smtp_port=free_port())
    now = utcnow()
    await queue(down, 5, now)
    report = await outbox.deliver_due(down, now)
    assert report.retrying == 5 and report.sent == 0
    rows = await OutboxMessage.select()
    assert all(r["status"] == OutboxStatus.queued.value and r["next_attempt_at"] > now for r in rows)
    assert all(r["last_error"] and "@" not in r["last_error"] for r in rows)
    up = dataclasses.replace(settings, smtp_port=inbox.port)
    assert (await outbox.deliver_due(up, now)).sent == 0  # not yet due: backing off
    later = now + timedelta(minutes=1)
    assert (await outbox.deliver_due(up, later)).sent == 5
    assert sorted(str(m["To"]) for m in inbox.messages) == sorted(f"officer{i}@example.org" for i in range(5))


async def test_a_claim_left_by_a_crashed_sender_is_resent_with_the_same_message_id(mail_settings, inbox):
    now = utcnow()
    await queue(mail_settings, 1, now)
    # A process claims the message, the SMTP server accepts it, then the process dies before marking it sent.
    [claimed] = await outbox.claim_due(now)
    await outbox.send_email(mail_settings, outbox.build_email(mail_settings, claimed))
    assert (await outbox.deliver_due(mail_settings, now)).sent == 0  # the claim still holds
    assert (await outbox.deliver_due(mail_settings, now + outbox.CLAIM_FOR + timedelta(seconds=1))).sent == 1
    ids = [m["Message-ID"] for m in inbox.messages]
    assert ids == [claimed["message_id"], claimed["message_id"]]


async def test_undelivered_messages_are_counted_for_the_staff_banner(settings):
    now = utcnow()
    await queue(settings, 2, now - timedelta(minutes=10))
    await queue(settings, 1, now)
    assert await outbox.undelivered_count(timedelta(minutes=5), now) == 2


async def test_two_workers_at_once_send_each_message_exactly_once(mail_settings, inbox):
    import asyncio

    await queue(mail_settings, 30)
    reports = await asyncio.gather(outbox.deliver_due(mail_settings), outbox.deliver_due(mail_settings))
    assert sum(r.sent for r in reports) == 30
    ids = [m["Message-ID"] for m in inbox.messages]
    assert len(ids) == 30 and len(set(ids)) == 30


async def test_twenty_urgent_concerns_raised_while_the_mail_server_is_down_all_arrive_once(settings, inbox, cast):
    from circles import concerns
    from cosa.web import make_environment
    from tests.integration.circles.conftest import make_circle, make_core_member

    core = await make_core_member(cast.north, cast.probation)
    circle = await make_circle(core, cast.coordinator)
    down = dataclasses.replace(settings, smtp_port=free_port())
    now = utcnow()
    for i in range(20):
        await concerns.raise_concern(
            down,
            make_environment(),
            by=cast.volunteer_a1,
            circle={"id": circle.id, "code_name": circle.code_name},
            severity="urgent",
            description=f"concern {i}",
            indicators=[],
            seen_at=now,
            now=now,
        )
    first = [await outbox.deliver_due(down, now) for _ in range(3)]  # a fixed clock delivers one batch a pass
    assert sum(r.sent for r in first) == 0 and sum(r.retrying for r in first) == 40  # the officer and the coordinator
    up = dataclasses.replace(settings, smtp_port=inbox.port)
    later = now + timedelta(minutes=1)
    assert sum([(await outbox.deliver_due(up, later)).sent for _ in range(3)]) == 40
    assert (await outbox.deliver_due(up, now + timedelta(minutes=20))).sent == 0
    assert len(inbox.to("priya@example.org")) == 20
    assert len({m["Message-ID"] for m in inbox.messages}) == 40


async def test_every_delivery_attempt_is_recorded(settings, inbox):
    from cosa.tables import OutboxAttempt

    now = utcnow()
    await queue(settings, 1, now)
    await outbox.deliver_due(dataclasses.replace(settings, smtp_port=free_port()), now)
    await outbox.deliver_due(dataclasses.replace(settings, smtp_port=inbox.port), now + timedelta(minutes=1))
    attempts = await OutboxAttempt.select(OutboxAttempt.outcome, OutboxAttempt.error).order_by(OutboxAttempt.id)
    assert [a["outcome"] for a in attempts] == ["retrying", "sent"]
    assert attempts[0]["error"] and "@" not in attempts[0]["error"]
