"""Durable outgoing mail.

A message is written to the outbox in the same transaction as the change that causes it, so the two
commit together or not at all. A delivery worker (woken at once by `wake()`, and on a timer as a safety
net) claims due messages, sends them with aiosmtplib and marks them sent. A claim lasts a few minutes: a
process that dies between the SMTP server accepting a message and marking it sent leaves the claim to
lapse, and the message is sent again with the same Message-ID, so mail clients can recognise it
(at least once, never silently lost). Several processes on one PostgreSQL database claim disjoint rows
with SKIP LOCKED; on SQLite an IMMEDIATE transaction serialises the claim.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime as rfc2822_date
from typing import Any
from urllib.parse import urlsplit

import aiosmtplib

from cosa.clock import utcnow
from cosa.db import is_postgres, write_transaction
from cosa.settings import Settings
from cosa.tables import OutboxAttempt, OutboxMessage, OutboxStatus

log = logging.getLogger("cosa.outbox")
CLAIM_FOR = timedelta(minutes=3)
BATCH_SIZE = 20
MAX_BACKOFF = timedelta(minutes=10)
SAFETY_NET_SECONDS = 15

_wake_event: asyncio.Event | None = None


def render_email(jinja: Any, template: str, **context: Any) -> tuple[str, str]:
    """(subject, body) of templates/emails/TEMPLATE.txt, whose first line is the subject. Call it inside
    `i18n.in_locale(recipient's locale)` so the email is in their language."""
    text = jinja.get_template(f"emails/{template}.txt").render(**context).strip()
    subject, _sep, body = text.partition("\n")
    return subject.strip(), body.strip() + "\n"


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def new_message_id(settings: Settings) -> str:
    domain = urlsplit(settings.base_url).hostname or "cosa.invalid"
    return f"<{uuid.uuid4()}@{domain}>"


async def enqueue(
    settings: Settings, *, recipient: str, subject: str, body_text: str, kind: str, now: datetime
) -> None:
    """Queue one email. Call inside the transaction of the change it belongs to, then `wake()` after it."""
    await OutboxMessage.insert(
        OutboxMessage(
            message_id=new_message_id(settings),
            recipient=recipient,
            subject=subject,
            body_text=body_text,
            kind=kind,
            status=OutboxStatus.queued.value,
            created_at=now,
            next_attempt_at=now,
        )
    )


def wake() -> None:
    """Tell this process's delivery worker that a message is waiting (a no-op when none is running)."""
    if _wake_event is not None:
        _wake_event.set()


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=5 * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


async def claim_due(now: datetime, limit: int = BATCH_SIZE) -> list[dict[str, Any]]:
    due = (
        (OutboxMessage.status.is_in([OutboxStatus.queued.value, OutboxStatus.sending.value]))
        & (OutboxMessage.next_attempt_at <= now)
        & ((OutboxMessage.claimed_until.is_null()) | (OutboxMessage.claimed_until < now))
    )
    async with write_transaction():
        query = OutboxMessage.select(OutboxMessage.id).where(due).order_by(OutboxMessage.next_attempt_at).limit(limit)
        if is_postgres():
            query = query.lock_rows("UPDATE", skip_locked=True)
        ids = [row["id"] for row in await query]
        if not ids:
            return []
        await OutboxMessage.update(
            {
                OutboxMessage.status: OutboxStatus.sending.value,
                OutboxMessage.claimed_until: now + CLAIM_FOR,
                OutboxMessage.attempts: OutboxMessage.attempts + 1,
            }
        ).where(OutboxMessage.id.is_in(ids))
        return await OutboxMessage.select().where(OutboxMessage.id.is_in(ids)).order_by(OutboxMessage.id)


def build_email(settings: Settings, row: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = row["recipient"]
    message["Subject"] = row["subject"]
    message["Message-ID"] = row["message_id"]
    message["Date"] = rfc2822_date(row["created_at"])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(row["body_text"])
    return message


async def send_email(settings: Settings, message: EmailMessage) -> None:
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        use_tls=settings.smtp_tls == "tls",
        start_tls=settings.smtp_tls == "starttls",
        timeout=10,
    )


async def deliver_due(settings: Settings, now: datetime | None = None) -> DeliveryReport:
    """Send every message that is due; return how many were sent, will be retried, or failed for good."""
    sent = retrying = failed = 0
    while True:
        batch = await claim_due(now or utcnow())
        if not batch:
            return DeliveryReport(sent, retrying, failed)
        for row in batch:
            outcome = await _deliver_one(settings, row, now)
            sent += outcome == "sent"
            retrying += outcome == "retrying"
            failed += outcome == "failed"
        if now is not None:  # a test's fixed clock: one pass, or a retry due "now" would loop forever
            return DeliveryReport(sent, retrying, failed)


async def _deliver_one(settings: Settings, row: dict[str, Any], now: datetime | None) -> str:
    try:
        await send_email(settings, build_email(settings, row))
    except aiosmtplib.SMTPRecipientsRefused as error:
        return await _mark_failure(row, now, error, permanent=True)
    except aiosmtplib.SMTPResponseException as error:
        return await _mark_failure(row, now, error, permanent=500 <= error.code < 600)
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as error:
        return await _mark_failure(row, now, error, permanent=False)
    await OutboxMessage.update(
        {
            OutboxMessage.status: OutboxStatus.sent.value,
            OutboxMessage.sent_at: now or utcnow(),
            OutboxMessage.claimed_until: None,
        }
    ).where(OutboxMessage.id == row["id"])
    await OutboxAttempt.insert(OutboxAttempt(message=row["id"], attempted_at=now or utcnow(), outcome="sent"))
    log.info("outbox sent kind=%s attempt=%s", row["kind"], row["attempts"])
    return "sent"


async def _mark_failure(row: dict[str, Any], now: datetime | None, error: Exception, *, permanent: bool) -> str:
    at = now or utcnow()
    code = getattr(error, "code", "")
    reason = f"{type(error).__name__} {code}".strip()[:255]
    await OutboxMessage.update(
        {
            OutboxMessage.status: (OutboxStatus.failed if permanent else OutboxStatus.queued).value,
            OutboxMessage.next_attempt_at: at + backoff(row["attempts"]),
            OutboxMessage.claimed_until: None,
            OutboxMessage.last_error: reason,
        }
    ).where(OutboxMessage.id == row["id"])
    outcome = "failed" if permanent else "retrying"
    await OutboxAttempt.insert(OutboxAttempt(message=row["id"], attempted_at=at, outcome=outcome, error=reason))
    log.warning(
        "outbox %s kind=%s attempt=%s error=%s",
        "failed" if permanent else "retry",
        row["kind"],
        row["attempts"],
        reason,
    )
    return "failed" if permanent else "retrying"


async def run_worker(settings: Settings) -> None:
    """Deliver now and whenever woken, and every few seconds regardless (for retries and other processes)."""
    global _wake_event
    _wake_event = asyncio.Event()
    try:
        while True:
            try:
                await deliver_due(settings)
            except Exception as error:  # noqa: BLE001 - the worker must outlive a database hiccup
                log.error("outbox worker pass failed: %s", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_wake_event.wait(), timeout=SAFETY_NET_SECONDS)
            _wake_event.clear()
    finally:
        _wake_event = None


async def undelivered_count(older_than: timedelta, now: datetime) -> int:
    """Messages still not sent this long after they were queued (shown as a banner to staff)."""
    return await OutboxMessage.count().where(
        OutboxMessage.status.is_in([OutboxStatus.queued.value, OutboxStatus.sending.value, OutboxStatus.failed.value]),
        OutboxMessage.created_at < now - older_than,
    )
