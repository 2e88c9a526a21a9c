"""Re-escalation: an escalation nobody acknowledges climbs the chain on schedule; one acknowledged but with
no action recorded reminds the officer once.

Level 0 is the officer alone. When the acknowledge deadline passes, the officer is reminded and the
probation team's duty inbox told (level 1); `lead_after` later, the programme lead too (level 2).
Acknowledging clears `next_notice_at`, which stops the climb. Each step claims a once-only key in the same
transaction as its outbox rows and moves the row on only if it is still where this run found it, so two
processes running the job at once send each notice exactly once (SECURITY.md items 19 and 20).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from typing import Any

from piccolo.columns.combination import WhereRaw

from circles.concerns import ConcernAction, Policy, event, notify, policy_for, severity_labels
from circles.tables import Escalation
from cosa import audit, i18n, outbox
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.i18n import LONDON
from cosa.once import first_time
from cosa.scheduler import Job
from cosa.settings import Settings

WEEKEND = (5, 6)  # Saturday, Sunday

COLUMNS = (
    Escalation.id,
    Escalation.public_id,
    Escalation.concern,
    Escalation.severity,
    Escalation.level,
    Escalation.created_at,
    Escalation.next_notice_at,
    Escalation.acknowledged_at,
    Escalation.concern._.circle._.code_name,
    Escalation.officer._.email,
    Escalation.officer._.locale,
    Escalation.officer._.is_active,
)


PolicyOf = Callable[[str], Awaitable[Policy]]
# The action reminder's once-key, f"escalation:{public_id}:action" (see _action_key), built in SQL.
NOT_REMINDED = WhereRaw(
    "NOT EXISTS (SELECT 1 FROM cosa_once_key AS k"
    " WHERE k.key = 'escalation:' || circles_escalation.public_id || ':action')"
)


class _Moved(Exception):
    """The escalation changed under this run (acknowledged, or another process got there first)."""


def add_working_time(start: datetime, delta: timedelta) -> datetime:
    """`start` plus `delta` counting only Monday to Friday (London wall-clock time), so a working day due
    over a weekend falls on Monday. Whole weekdays count: the deadline is a day, not office hours.

    Arithmetic is on London wall time: UK clocks change on Sundays, so every counted day is 24 hours and
    Friday 17:00 plus one working day is Monday 17:00 on either side of a clock change."""
    if delta <= timedelta(0):
        return start
    local = start.astimezone(LONDON).replace(tzinfo=None)
    remaining = delta
    while True:
        if local.weekday() in WEEKEND:
            local = datetime.combine(local.date() + timedelta(days=7 - local.weekday()), time())
        day_end = datetime.combine(local.date() + timedelta(days=1), time())
        if local + remaining <= day_end:
            local += remaining
            break
        remaining -= day_end - local
        local = day_end
    return local.replace(tzinfo=LONDON).astimezone(start.tzinfo)


def deadline(policy: Policy, start: datetime, delta: timedelta) -> datetime:
    return add_working_time(start, delta) if policy.working_hours_only else start + delta


async def re_escalate(settings: Settings, jinja: Any, now: datetime | None = None) -> int:
    """Send the notices that have fallen due; returns how many emails were queued."""
    now = now or utcnow()
    policies: dict[str, Policy] = {}

    async def policy(severity: str) -> Policy:
        if severity not in policies:
            policies[severity] = await policy_for(severity)
        return policies[severity]

    sent = 0
    due = await Escalation.select(*COLUMNS).where(
        Escalation.acknowledged_at.is_null(),
        Escalation.closed_at.is_null(),
        Escalation.next_notice_at.is_not_null(),
        Escalation.next_notice_at <= now,
    )
    for row in due:
        sent += await _climb(settings, jinja, row, await policy(row["severity"]), now)
    for row in await _action_overdue(now, policy):
        sent += await _remind_action(settings, row, await policy(row["severity"]), now)
    if sent:
        outbox.wake()
    return sent


async def _climb(settings: Settings, jinja: Any, row: dict[str, Any], policy: Policy, now: datetime) -> int:
    """Move one unacknowledged escalation up a level and queue its notices, once."""
    level = row["level"]
    if level == 0 and policy.working_hours_only:
        # The first deadline is written in plain time when the concern is escalated; weekend hours do not
        # count under a working-hours policy, so a deadline that is early by a weekend moves on, unsent.
        working = add_working_time(row["created_at"], policy.acknowledge_within)
        if working > now:
            await Escalation.update({Escalation.next_notice_at: working}).where(
                Escalation.id == row["id"], Escalation.level == 0, Escalation.acknowledged_at.is_null()
            )
            return 0
    if level == 0:
        lead_after = policy.lead_after if policy.programme_lead else None
        next_at = deadline(policy, now, lead_after) if lead_after is not None else None
        recipients = _officer(row, reminder=True)
        if policy.duty_inbox and policy.duty_inbox not in {r["email"] for r in recipients}:
            # With no officer the duty inbox had the first notice; this one is then its reminder.
            recipients.append({"email": policy.duty_inbox, "locale": "", "reminder": not recipients})
    elif level == 1:
        next_at = None
        recipients = (
            [{"email": policy.programme_lead, "locale": "", "reminder": False}] if policy.programme_lead else []
        )
    else:  # nobody is left to tell
        await Escalation.update({Escalation.next_notice_at: None}).where(Escalation.id == row["id"])
        return 0
    try:
        async with write_transaction():
            if not await first_time(f"escalation:{row['public_id']}:level:{level + 1}", now):
                raise _Moved
            moved = (
                await Escalation.update({Escalation.level: level + 1, Escalation.next_notice_at: next_at})
                .where(Escalation.id == row["id"], Escalation.level == level, Escalation.acknowledged_at.is_null())
                .returning(Escalation.id)
            )
            if not moved:
                raise _Moved  # roll back the key too: nothing was done
            escalation = {"public_id": row["public_id"], "level": level + 1}
            for person in recipients:
                await notify(
                    settings,
                    jinja,
                    escalation,
                    row["concern.circle.code_name"],
                    row["severity"],
                    person,
                    now,
                    concern_id=row["concern"],
                    reminder=person["reminder"],
                )
    except _Moved:
        return 0
    return len(recipients)


def _officer(row: dict[str, Any], *, reminder: bool) -> list[dict[str, Any]]:
    if not row["officer.email"] or not row["officer.is_active"]:
        return []
    return [{"email": row["officer.email"], "locale": row["officer.locale"], "reminder": reminder}]


async def _action_overdue(now: datetime, policy: PolicyOf) -> list[dict[str, Any]]:
    """Acknowledged, open escalations with no action recorded after `action_within`, not yet reminded.

    One query whatever the number: reminded ones are left out in SQL (their once-key exists), so old
    escalations nobody closed do not make every run slower. Plain time is a superset of working time
    (skipping weekends only ever moves a deadline later); working time is checked here."""
    urgent, concern = await policy("urgent"), await policy("concern")
    rows = await Escalation.select(*COLUMNS).where(
        Escalation.acknowledged_at.is_not_null(),
        Escalation.actioned_at.is_null(),
        Escalation.closed_at.is_null(),
        (
            (Escalation.severity == "urgent") & (Escalation.acknowledged_at <= now - urgent.action_within)
            | (Escalation.severity != "urgent") & (Escalation.acknowledged_at <= now - concern.action_within)
        ),
        NOT_REMINDED,
    )
    due = []
    for row in rows:
        row_policy = await policy(row["severity"])
        if deadline(row_policy, row["acknowledged_at"], row_policy.action_within) <= now:
            due.append(row)
    return due


def _action_key(row: dict[str, Any]) -> str:
    return f"escalation:{row['public_id']}:action"


async def _remind_action(settings: Settings, row: dict[str, Any], policy: Policy, now: datetime) -> int:
    """Remind the officer, once, that they acknowledged the alert but have not said what was done (the
    duty inbox instead when the officer's account is gone)."""
    recipients = _officer(row, reminder=True)
    if not recipients and policy.duty_inbox:
        recipients = [{"email": policy.duty_inbox, "locale": "", "reminder": True}]
    async with write_transaction():
        if not await first_time(_action_key(row), now):
            return 0
        for person in recipients:
            subject, body = _action_email(settings, row, person["locale"])
            await outbox.enqueue(
                settings,
                recipient=person["email"],
                subject=subject,
                body_text=body,
                kind=f"escalation_{row['severity']}",
                now=now,
            )
        if recipients:
            detail = {"level": row["level"], "reminder": True, "action_due": True}
            await event(row["concern"], "notified", detail=detail, now=now)
            await audit.record(
                ConcernAction.NOTIFIED,
                object_type="escalation",
                object_id=row["public_id"],
                detail=detail,
                now=now,
            )
    return len(recipients)


def _action_email(settings: Settings, row: dict[str, Any], locale: str) -> tuple[str, str]:
    """(subject, body) in the officer's language: the code name, severity, time and a link, nothing more."""
    with i18n.in_locale(locale):
        circle, severity = row["concern.circle.code_name"], severity_labels()[row["severity"]]
        subject = i18n.gettext(
            "Reminder: record what was done about the %(severity)s alert for %(circle)s",
            severity=severity,
            circle=circle,
        )
        lines = [
            i18n.gettext(
                "You acknowledged an alert from %(circle)s (%(severity)s) at %(at)s. No action has been recorded yet.",
                circle=circle,
                severity=severity,
                at=i18n.format_datetime(row["acknowledged_at"]),
            ),
            "",
            i18n.gettext("Sign in to record what you did:"),
            f"{settings.base_url}/escalations/{row['public_id']}",
            "",
            i18n.gettext(
                "This email holds no personal details on purpose. If someone is in immediate danger, call 999."
            ),
            "",
            i18n.gettext("CoSA Circles"),
        ]
    return subject, "\n".join(lines) + "\n"


def _jobs() -> list[Job]:
    environments: list[Any] = []  # one per process, made on first run: importing cosa.web here would cycle

    async def run(settings: Settings) -> int:
        if not environments:
            from cosa.web import make_environment

            environments.append(make_environment())
        return await re_escalate(settings, environments[0])

    run.__name__ = "re_escalate"
    return [Job("circles.re_escalate", run, seconds=60)]


JOBS = _jobs()
