"""Concerns and their escalation to probation: written with their outgoing mail in one transaction.

A concern is raised by a volunteer or coordinator (or automatically by a check-in indicator). An urgent
one is escalated to the core member's probation officer at once; a `concern` waits for the coordinator's
triage. The escalation's email carries no more than the circle's code name, the severity, the time and a
link; the officer acknowledges on a page behind sign-in (a POST: mail scanners prefetch links).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from circles.tables import (
    Circle,
    Concern,
    ConcernEvent,
    ConcernState,
    CoreMember,
    Escalation,
    EscalationPolicy,
    Severity,
)
from cosa import audit, i18n, outbox
from cosa.db import write_transaction
from cosa.settings import Settings
from cosa.tables import User


class ConcernAction:
    RAISED = "concern.raised"
    ADDED_TO = "concern.added_to"
    TRIAGED = "concern.triaged"
    ESCALATED = "concern.escalated"
    NOTIFIED = "escalation.notified"
    ACKNOWLEDGED = "escalation.acknowledged"
    VIEWED = "escalation.viewed"
    ACTIONED = "escalation.actioned"
    CLOSED = "concern.closed"


class ConcernRuleBroken(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Policy:
    severity: str
    acknowledge_within: timedelta
    lead_after: timedelta | None
    action_within: timedelta
    working_hours_only: bool
    duty_inbox: str
    programme_lead: str


DEFAULT_POLICIES = {
    Severity.urgent.value: Policy(
        "urgent", timedelta(minutes=30), timedelta(minutes=30), timedelta(hours=4), False, "", ""
    ),
    Severity.concern.value: Policy("concern", timedelta(hours=24), None, timedelta(days=2), True, "", ""),
}


async def policy_for(severity: str) -> Policy:
    """The administrator's policy for a severity, or the default (urgent: 30 minutes; concern: 1 working day)."""
    row = await EscalationPolicy.select().where(EscalationPolicy.severity == severity).first()
    default = DEFAULT_POLICIES.get(severity, DEFAULT_POLICIES[Severity.concern.value])
    if row is None:
        return default
    return Policy(
        severity,
        timedelta(minutes=row["acknowledge_within_minutes"]),
        timedelta(minutes=row["lead_after_minutes"]) if row["lead_after_minutes"] is not None else None,
        timedelta(minutes=row["action_within_minutes"]),
        row["working_hours_only"],
        row["duty_inbox"],
        row["programme_lead"],
    )


def severity_labels() -> dict[str, str]:
    return {
        Severity.info.value: i18n.gettext("For information"),
        Severity.concern.value: i18n.gettext("A concern"),
        Severity.urgent.value: i18n.gettext("Urgent"),
    }


def state_labels() -> dict[str, str]:
    return {
        ConcernState.raised.value: i18n.gettext("Raised"),
        ConcernState.triaged.value: i18n.gettext("Looked at, not escalated"),
        ConcernState.escalated.value: i18n.gettext("Sent to probation"),
        ConcernState.acknowledged.value: i18n.gettext("Acknowledged by probation"),
        ConcernState.actioned.value: i18n.gettext("Action taken"),
        ConcernState.closed.value: i18n.gettext("Closed"),
    }


def _email(jinja: Any, template: str, locale: str, **context: Any) -> tuple[str, str]:
    with i18n.in_locale(locale):
        return outbox.render_email(jinja, template, severities=severity_labels(), **context)


async def event(
    concern_id: int,
    kind: str,
    *,
    by: Any = None,
    to_state: str = "",
    note: str = "",
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> None:
    await ConcernEvent.insert(
        ConcernEvent(
            concern=concern_id,
            kind=kind,
            to_state=to_state,
            note=note,
            detail=detail or {},
            at=now,
            by=by.id if by is not None else None,
        )
    )


async def _set_state(concern_id: int, state: str, now: datetime) -> None:
    await Concern.update({Concern.state: state, Concern.state_changed_at: now}).where(Concern.id == concern_id)


async def raise_concern(
    settings: Settings,
    jinja: Any,
    *,
    by: Any,
    circle: dict[str, Any],
    severity: str,
    description: str,
    indicators: list[str],
    seen_at: datetime,
    now: datetime,
    check_in_id: int | None = None,
) -> Any:
    """Record a concern (and, when urgent, its escalation and emails) in one transaction; returns its public id.

    Call inside an open write transaction to make it part of a larger change (a check-in); the caller then
    calls outbox.wake() after committing."""
    async with write_transaction():
        rows = await Concern.insert(
            Concern(
                circle=circle["id"],
                raised_by=by.id if by is not None else None,
                check_in=check_in_id,
                severity=severity,
                description=description,
                indicators=indicators,
                seen_at=seen_at,
                state=ConcernState.raised.value,
                state_changed_at=now,
                created_at=now,
            )
        ).returning(Concern.id, Concern.public_id)
        concern = {"id": rows[0]["id"], "public_id": rows[0]["public_id"], "severity": severity, "circle": circle["id"]}
        await event(
            concern["id"],
            "raised",
            by=by,
            to_state=ConcernState.raised.value,
            detail={"severity": severity, "automatic": check_in_id is not None},
            now=now,
        )
        await audit.record(
            ConcernAction.RAISED,
            actor=by,
            object_type="concern",
            object_id=concern["public_id"],
            detail={"severity": severity},
            now=now,
        )
        await _tell_coordinator(settings, jinja, concern, circle, now)
        if severity == Severity.urgent.value:
            await escalate(settings, jinja, by=None, concern=concern, now=now)
    return concern["public_id"]


async def _tell_coordinator(
    settings: Settings, jinja: Any, concern: dict[str, Any], circle: dict[str, Any], now: datetime
) -> None:
    if concern["severity"] == Severity.info.value:
        return  # shown on the dashboard, not mailed
    coordinator = await _coordinator_of(circle["id"])
    if coordinator is None:
        return
    subject, body = _email(
        jinja,
        "concern_raised",
        coordinator["locale"],
        circle=circle["code_name"],
        severity=concern["severity"],
        at=now,
        link=f"{settings.base_url}/concerns/{concern['public_id']}",
    )
    await outbox.enqueue(
        settings, recipient=coordinator["email"], subject=subject, body_text=body, kind="concern_raised", now=now
    )


async def _coordinator_of(circle_id: int) -> dict[str, Any] | None:
    row = (
        await Circle.select(Circle.coordinator._.email, Circle.coordinator._.locale, Circle.coordinator._.is_active)
        .where(Circle.id == circle_id)
        .first()
    )
    if row is None or not row["coordinator.email"] or not row["coordinator.is_active"]:
        return None
    return {"email": row["coordinator.email"], "locale": row["coordinator.locale"]}


async def escalate(
    settings: Settings, jinja: Any, *, by: Any, concern: dict[str, Any], now: datetime, note: str = ""
) -> Any:
    """Send a concern to the core member's probation officer (the duty inbox when there is none)."""
    from circles.escalation_jobs import deadline  # the jobs module imports this one

    async with write_transaction():
        circle = (
            await Circle.select(Circle.id, Circle.code_name, Circle.core_member)
            .where(Circle.id == concern["circle"])
            .first()
        )
        assert circle is not None
        core_member = (
            await CoreMember.select(CoreMember.probation_officer).where(CoreMember.id == circle["core_member"]).first()
        )
        officer_id = core_member["probation_officer"] if core_member else None
        policy = await policy_for(concern["severity"])
        rows = await Escalation.insert(
            Escalation(
                concern=concern["id"],
                officer=officer_id,
                severity=concern["severity"],
                level=0,
                created_at=now,
                next_notice_at=deadline(policy, now, policy.acknowledge_within),
            )
        ).returning(Escalation.id, Escalation.public_id)
        escalation = {"id": rows[0]["id"], "public_id": rows[0]["public_id"], "level": 0}
        await _set_state(concern["id"], ConcernState.escalated.value, now)
        await event(concern["id"], "escalated", by=by, to_state=ConcernState.escalated.value, note=note, now=now)
        await audit.record(
            ConcernAction.ESCALATED,
            actor=by,
            object_type="concern",
            object_id=concern["public_id"],
            detail={"severity": concern["severity"]},
            now=now,
        )
        recipients = await officer_recipients(officer_id)
        if not recipients and policy.duty_inbox:
            recipients = [{"email": policy.duty_inbox, "locale": ""}]
        for person in recipients:
            await notify(
                settings,
                jinja,
                escalation,
                circle["code_name"],
                concern["severity"],
                person,
                now,
                concern_id=concern["id"],
            )
    return escalation["public_id"]


async def officer_recipients(officer_id: int | None) -> list[dict[str, Any]]:
    if officer_id is None:
        return []
    row = await User.select(User.email, User.locale, User.is_active).where(User.id == officer_id).first()
    return [{"email": row["email"], "locale": row["locale"]}] if row and row["is_active"] else []


async def notify(
    settings: Settings,
    jinja: Any,
    escalation: dict[str, Any],
    code_name: str,
    severity: str,
    person: dict[str, Any],
    now: datetime,
    *,
    concern_id: int,
    reminder: bool = False,
) -> None:
    """Queue one escalation email: code name, severity, time and link only. Inside the caller's transaction."""
    subject, body = _email(
        jinja,
        "escalation",
        person["locale"],
        circle=code_name,
        severity=severity,
        at=now,
        reminder=reminder,
        link=f"{settings.base_url}/escalations/{escalation['public_id']}",
    )
    await outbox.enqueue(
        settings, recipient=person["email"], subject=subject, body_text=body, kind=f"escalation_{severity}", now=now
    )
    await event(concern_id, "notified", detail={"level": escalation["level"], "reminder": reminder}, now=now)
    await audit.record(
        ConcernAction.NOTIFIED,
        object_type="escalation",
        object_id=escalation["public_id"],
        detail={"level": escalation["level"], "reminder": reminder},
        now=now,
    )


async def triage(
    settings: Settings, jinja: Any, *, by: Any, concern: dict[str, Any], escalate_it: bool, note: str, now: datetime
) -> None:
    """The coordinator's decision on a raised concern: escalate it, or record why not."""
    if concern["state"] != ConcernState.raised.value:
        raise ConcernRuleBroken(i18n.gettext("This concern has already been looked at."))
    if not escalate_it and not note.strip():
        raise ConcernRuleBroken(i18n.gettext("Say why this concern is not being escalated."))
    async with write_transaction():
        updated = (
            await Concern.update({Concern.state_changed_at: now})
            .where(Concern.id == concern["id"], Concern.state == ConcernState.raised.value)
            .returning(Concern.id)
        )
        if not updated:
            raise ConcernRuleBroken(i18n.gettext("This concern has already been looked at."))
        if escalate_it:
            await escalate(settings, jinja, by=by, concern=concern, now=now, note=note.strip())
        else:
            await _set_state(concern["id"], ConcernState.triaged.value, now)
            await event(
                concern["id"], "triaged", by=by, to_state=ConcernState.triaged.value, note=note.strip(), now=now
            )
            await audit.record(
                ConcernAction.TRIAGED, actor=by, object_type="concern", object_id=concern["public_id"], now=now
            )
    outbox.wake()


async def add_to(*, by: Any, concern: dict[str, Any], text: str, now: datetime) -> None:
    """The volunteer who raised it adds what they have noticed since (the concern keeps its state)."""
    async with write_transaction():
        await event(concern["id"], "added_to", by=by, note=text.strip(), now=now)
        await audit.record(
            ConcernAction.ADDED_TO, actor=by, object_type="concern", object_id=concern["public_id"], now=now
        )


async def acknowledge(*, by: Any, escalation: dict[str, Any], now: datetime) -> None:
    async with write_transaction():
        updated = (
            await Escalation.update(
                {Escalation.acknowledged_at: now, Escalation.acknowledged_by: by.id, Escalation.next_notice_at: None}
            )
            .where(Escalation.id == escalation["id"], Escalation.acknowledged_at.is_null())
            .returning(Escalation.concern)
        )
        if not updated:
            raise ConcernRuleBroken(i18n.gettext("This alert was already acknowledged."))
        await _set_state(updated[0]["concern"], ConcernState.acknowledged.value, now)
        await event(updated[0]["concern"], "acknowledged", by=by, to_state=ConcernState.acknowledged.value, now=now)
        await audit.record(
            ConcernAction.ACKNOWLEDGED, actor=by, object_type="escalation", object_id=escalation["public_id"], now=now
        )


def action_labels() -> dict[str, str]:
    return {
        "home_visit": i18n.gettext("Home visit"),
        "police_informed": i18n.gettext("Police informed"),
        "serac_marac": i18n.gettext("SERAC or MARAC referral"),
        "nrm_referral": i18n.gettext("NRM referral"),
        "recall": i18n.gettext("Recall"),
        "no_further_action": i18n.gettext("No further action"),
        "other": i18n.gettext("Other"),
    }


async def record_action(*, by: Any, escalation: dict[str, Any], action: str, notes: str, now: datetime) -> None:
    if escalation["acknowledged_at"] is None:
        raise ConcernRuleBroken(i18n.gettext("Acknowledge the alert before recording what was done."))
    if escalation["closed_at"] is not None:
        raise ConcernRuleBroken(i18n.gettext("This alert is closed."))
    async with write_transaction():
        # Conditional on the stored state, so an escalation closed meanwhile is not written to.
        updated = (
            await Escalation.update(
                {Escalation.action: action, Escalation.action_notes: notes.strip(), Escalation.actioned_at: now}
            )
            .where(
                Escalation.id == escalation["id"],
                Escalation.acknowledged_at.is_not_null(),
                Escalation.closed_at.is_null(),
            )
            .returning(Escalation.id)
        )
        if not updated:
            raise ConcernRuleBroken(i18n.gettext("This alert is closed."))
        await _set_state(escalation["concern"], ConcernState.actioned.value, now)
        await event(
            escalation["concern"],
            "actioned",
            by=by,
            to_state=ConcernState.actioned.value,
            note=notes.strip(),
            detail={"action": action},
            now=now,
        )
        await audit.record(
            ConcernAction.ACTIONED,
            actor=by,
            object_type="escalation",
            object_id=escalation["public_id"],
            detail={"action": action},
            now=now,
        )


async def close(*, by: Any, concern: dict[str, Any], note: str, now: datetime) -> None:
    if concern["state"] == ConcernState.closed.value:
        raise ConcernRuleBroken(i18n.gettext("This concern is already closed."))
    if concern["state"] in (ConcernState.escalated.value, ConcernState.acknowledged.value):
        raise ConcernRuleBroken(
            i18n.gettext("Probation have not recorded what they did yet; it can be closed after that.")
        )
    async with write_transaction():
        await _set_state(concern["id"], ConcernState.closed.value, now)
        await Escalation.update({Escalation.closed_at: now}).where(
            Escalation.concern == concern["id"], Escalation.closed_at.is_null()
        )
        await event(concern["id"], "closed", by=by, to_state=ConcernState.closed.value, note=note.strip(), now=now)
        await audit.record(
            ConcernAction.CLOSED, actor=by, object_type="concern", object_id=concern["public_id"], now=now
        )


async def timeline(concern_id: int, *, for_volunteer: bool) -> list[dict[str, Any]]:
    """The concern's steps; volunteers see that probation acted, never the officer's notes."""
    rows = (
        await ConcernEvent.select(
            ConcernEvent.kind,
            ConcernEvent.to_state,
            ConcernEvent.note,
            ConcernEvent.detail,
            ConcernEvent.at,
            ConcernEvent.by._.display_name,
            ConcernEvent.by._.role,
        )
        .where(ConcernEvent.concern == concern_id)
        .order_by(ConcernEvent.at)
        .order_by(ConcernEvent.id)
        .output(load_json=True)
    )
    if for_volunteer:
        for row in rows:
            if row["by.role"] in ("probation", "coordinator") or row["kind"] in ("notified", "actioned"):
                row["note"] = ""
            if row["kind"] == "actioned":
                row["detail"] = {}
    return rows
