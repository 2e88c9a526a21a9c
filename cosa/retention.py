"""How long personal data is kept: the kinds of data, their default periods and the legal minimums below
which an administrator cannot set them. What happens when a period runs out is in circles/retention.py.

The minimums are floors this project draws from UK law; a data protection officer should confirm them for
their organisation (a longer period is always allowed, up to 100 years).

Closed circles (the core member's record and the circle's free text): default and minimum six years.
  The clock starts at the latest of: the closure of the core member's last circle, the end of their licence
  and the end of any order (such as a Slavery and Trafficking Prevention Order), because offence data is
  needed while a licence or order is in force (probation or the police may ask what the circle knew).
  Six years is the limitation period for claims in negligence and contract (Limitation Act 1980, sections 2
  and 5): the records of what the circle was told and did are the evidence for whoever brings or defends
  such a claim, the core member included. Storage limitation (UK GDPR Article 5(1)(e)) and the stricter
  rules for criminal-offence data (Article 10, Data Protection Act 2018 Schedule 1) forbid keeping it
  longer than needed, so six years is the default too. Six calendar years hold at most two 29 Februaries:
  6 x 365 + 2 = 2192 days is never shorter than six years.

Rejected volunteer applications: default one year, minimum six months.
  Someone whose application was not taken forward can bring a discrimination claim under the Equality Act
  2010 within six months (section 118, county court; volunteering is usually a service, not employment),
  or three months plus early conciliation in an employment tribunal (section 123). The application and
  the reason code are the evidence. The longest six consecutive months (July to December) have 184 days.
  The default year leaves room for a claim a court lets in late ("just and equitable") and for questions
  when the same person applies again.

Anything over 100 years (36,525 days) is refused as a typing mistake: no period may be indefinite.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cosa import audit, i18n
from cosa.audit import Action
from cosa.db import write_transaction
from cosa.forms import FormResult
from cosa.tables import AuditEvent, RetentionSetting

CLOSED_CIRCLE = "closed_circle"
REJECTED_APPLICATION = "rejected_application"
MAXIMUM_DAYS = 36_525  # 100 years


@dataclass(frozen=True)
class Kind:
    name: str
    default_days: int
    minimum_days: int


KINDS: dict[str, Kind] = {
    CLOSED_CIRCLE: Kind(CLOSED_CIRCLE, default_days=2192, minimum_days=2192),
    REJECTED_APPLICATION: Kind(REJECTED_APPLICATION, default_days=365, minimum_days=184),
}


def labels() -> dict[str, str]:
    return {
        CLOSED_CIRCLE: i18n.gettext("Closed circles"),
        REJECTED_APPLICATION: i18n.gettext("Rejected volunteer applications"),
    }


def starts() -> dict[str, str]:
    """When each period starts counting."""
    return {
        CLOSED_CIRCLE: i18n.gettext(
            "Counted from the latest of: the day the core member's last circle closed or ended early, "
            "the end of their licence, and the end of any order."
        ),
        REJECTED_APPLICATION: i18n.gettext(
            "Counted from the day the application was marked ‘Application not taken forward’."
        ),
    }


def effects() -> dict[str, list[str]]:
    """What the daily job does when the period has passed, in plain words for the admin page."""
    return {
        CLOSED_CIRCLE: [
            i18n.gettext(
                "The core member's name becomes ‘Anonymised’. Their known-as name, pronouns, languages, "
                "address district, offence and order details, licence and order dates, NRM record and "
                "probation officer are removed. The referral date is kept to the month only."
            ),
            i18n.gettext("Risk connections and outer circle members are deleted."),
            i18n.gettext(
                "The text of case notes, minutes, check-in notes, concerns, escalation notes, the covenant "
                "and reasons for stage changes is removed, and so are venues."
            ),
            i18n.gettext(
                "Kept for statistics: the circle, its region, stages and dates, the number of meetings and "
                "who attended, check-ins with their indicators and wellbeing scores, concerns with their "
                "severity and timeline, need changes, and the core member's cohort and gender."
            ),
        ],
        REJECTED_APPLICATION: [
            i18n.gettext(
                "The applicant's name becomes ‘Anonymised’. Their email address, phone number, home district, "
                "languages, availability, declared connections, vetting dates and supervision notes are "
                "removed. The application date is kept to the month only; the region is kept."
            ),
            i18n.gettext(
                "If they had a sign-in account, it is closed: its email address is replaced, its name "
                "becomes ‘Anonymised’, and all its sessions end. Mail sent to them is deleted."
            ),
            i18n.gettext("Kept for statistics: the region, gender and the steps of the application with dates."),
        ],
    }


def minimum_reasons() -> dict[str, str]:
    return {
        CLOSED_CIRCLE: i18n.gettext(
            "claims about a circle's work can be brought for six years (Limitation Act 1980), and offence "
            "data is needed while a licence or order is in force"
        ),
        REJECTED_APPLICATION: i18n.gettext(
            "someone turned down can bring a discrimination claim for six months (Equality Act 2010)"
        ),
    }


def describe_days(days: int) -> str:
    """'2192 days (about 6 years)' for hints and messages."""
    if days >= 365:
        return i18n.ngettext(
            "%(days)s days (about %(num)s year)",
            "%(days)s days (about %(num)s years)",
            round(days / 365.25),
            days=days,
        )
    return i18n.ngettext(
        "%(days)s days (about %(num)s month)", "%(days)s days (about %(num)s months)", round(days / 30.44), days=days
    )


def effective_days(kind: Kind, stored: int | None) -> int:
    """The period the job uses: the stored one, never below the minimum (a later release may raise it)."""
    if stored is None:
        return kind.default_days
    return min(max(stored, kind.minimum_days), MAXIMUM_DAYS)


async def stored_settings() -> dict[str, dict[str, Any]]:
    rows = await RetentionSetting.select(
        RetentionSetting.name,
        RetentionSetting.days,
        RetentionSetting.updated_at,
        RetentionSetting.updated_by._.display_name,
    ).where(RetentionSetting.name.is_in(list(KINDS)))
    return {row["name"]: row for row in rows}


async def periods() -> dict[str, int]:
    """Days to keep each kind of data, as the job will apply them."""
    stored = await stored_settings()
    return {name: effective_days(kind, stored.get(name, {}).get("days")) for name, kind in KINDS.items()}


def check_days(result: FormResult, kind: Kind) -> int | None:
    """A period in whole days from the form; below the legal minimum or over 100 years is refused."""
    name = kind.name
    raw = "".join(result.values.get(name, "").split()).replace(",", "")
    if not raw:
        result.error(name, i18n.gettext("Enter how many days to keep this data."))
        return None
    if not (raw.isascii() and raw.isdigit()):
        result.error(name, i18n.gettext("Enter a whole number of days, like %(days)s.", days=kind.default_days))
        return None
    days = int(raw) if len(raw) <= 9 else MAXIMUM_DAYS + 1  # int() refuses thousands of digits
    if days < kind.minimum_days:
        result.error(
            name,
            i18n.gettext(
                "This cannot be shorter than %(minimum)s, because %(reason)s. Enter %(days)s or more.",
                minimum=describe_days(kind.minimum_days),
                reason=minimum_reasons()[name],
                days=kind.minimum_days,
            ),
        )
        return None
    if days > MAXIMUM_DAYS:
        result.error(
            name,
            i18n.gettext(
                "This is more than 100 years: personal data cannot be kept for ever. Enter %(days)s or fewer.",
                days=MAXIMUM_DAYS,
            ),
        )
        return None
    return days


async def change_period(*, by: Any, kind: Kind, days: int, now: datetime) -> bool:
    """Save a new period; audited with the old and new days. False when it was already that."""
    async with write_transaction():
        row = await RetentionSetting.select(RetentionSetting.days).where(RetentionSetting.name == kind.name).first()
        old = effective_days(kind, row["days"] if row else None)
        if row is not None and row["days"] == days:
            return False
        await RetentionSetting.insert(
            RetentionSetting(name=kind.name, days=days, updated_at=now, updated_by=by.id)
        ).on_conflict(
            target=RetentionSetting.name,
            action="DO UPDATE",
            values=[RetentionSetting.days, RetentionSetting.updated_at, RetentionSetting.updated_by],
        )
        await audit.record(
            Action.RETENTION_CHANGED,
            actor=by,
            object_type="retention_setting",
            object_id=kind.name,
            detail={"old_days": old, "new_days": days},
            now=now,
        )
    return True


async def last_run() -> dict[str, Any] | None:
    """The latest completed run's audit row: when, how it was started, and its counts."""
    return (
        await AuditEvent.select(AuditEvent.occurred_at, AuditEvent.detail)
        .where(AuditEvent.action == Action.RETENTION_RUN)
        .order_by(AuditEvent.seq, ascending=False)
        .output(load_json=True)
        .first()
    )
