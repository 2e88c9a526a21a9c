"""Volunteer services: the pipeline, profile, vetting and training, status, supervision, accounts, alerts.

Every query here is scoped by the caller: pages reach a volunteer through `find_volunteer(region_id, ...)`,
so nothing outside the coordinator's region is ever loaded. Each page costs a fixed number of queries.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from jinja2 import Environment
from piccolo.query.functions.aggregate import Count, Max

from cosa import audit, i18n, outbox
from cosa.db import is_postgres, write_transaction
from cosa.settings import Settings
from cosa.tables import User
from cosa.users import EmailTaken, invite_user, set_active
from volunteers.forms import VETTING_FIELDS, Profile
from volunteers.rules import TRANSITIONS, Vetting, add_years, dbs_expires_on, missing_for_active
from volunteers.tables import SupervisionSession, Volunteer, VolunteerStatus, VolunteerStatusChange

LIST_LIMIT = 200
DBS_WARNING_DAYS = 60
SUPERVISION_MONTHS = 3
# A sign-in account is for volunteers taken on: trained, or already serving in circles.
ACCOUNT_STATUSES = (VolunteerStatus.trained, VolunteerStatus.active, VolunteerStatus.resting)
# Volunteers whose DBS matters now: those who are, or may soon be, matched to circles.
DBS_WATCH_STATUSES = ACCOUNT_STATUSES
PROFILE_FIELDS = tuple(Profile.__dataclass_fields__)


class VolunteerAction:
    """Audit actions for volunteers (cosa.audit.Action holds the shell's own)."""

    CREATED = "volunteer.created"
    VIEWED = "volunteer.viewed"
    UPDATED = "volunteer.updated"
    VETTING_RECORDED = "volunteer.vetting_recorded"
    STATUS_CHANGED = "volunteer.status_changed"
    SUPERVISION_RECORDED = "volunteer.supervision_recorded"
    ACCOUNT_CREATED = "volunteer.account_created"


def london_today(now: datetime) -> date:
    return now.astimezone(i18n.LONDON).date()


def months_before(day: date, months: int) -> date:
    """The same day `months` calendar months earlier (the month's last day when it has no such day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def _as_date(value: Any) -> date | None:
    # An aggregate loses the column's type on SQLite, which then hands back the stored ISO text.
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def vetting_of(volunteer: dict[str, Any]) -> Vetting:
    return Vetting(**{name: volunteer[name] for name in VETTING_FIELDS})


def dbs_state(certificate_on: date | None, renewal_years: int, today: date) -> tuple[date | None, str]:
    """(expiry, "none" | "expired" | "expiring" | "ok"): expiring means within DBS_WARNING_DAYS."""
    expires = dbs_expires_on(certificate_on, renewal_years)
    if expires is None:
        return None, "none"
    if expires <= today:
        return expires, "expired"
    if expires <= today + timedelta(days=DBS_WARNING_DAYS):
        return expires, "expiring"
    return expires, "ok"


# --- reading -------------------------------------------------------------------------------------------


async def pipeline_counts(region_id: int) -> dict[str, int]:
    rows = (
        await Volunteer.select(Volunteer.status, Count(Volunteer.id, alias="n"))
        .where(Volunteer.region == region_id)
        .group_by(Volunteer.status)
    )
    counts = {status.value: 0 for status in VolunteerStatus}
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


async def last_supervision_dates(region_id: int, statuses: tuple[str, ...] | None = None) -> dict[int, date]:
    """Volunteer row id -> date of their latest supervision session, for one region, in one query."""
    query = (
        SupervisionSession.select(SupervisionSession.volunteer, Max(SupervisionSession.held_on, alias="last"))
        .where(SupervisionSession.volunteer._.region == region_id)
        .group_by(SupervisionSession.volunteer)
    )
    if statuses:
        query = query.where(SupervisionSession.volunteer._.status.is_in(list(statuses)))
    return {row["volunteer"]: d for row in await query if (d := _as_date(row["last"])) is not None}


async def list_volunteers(
    region_id: int, *, status: str = "", search: str = "", limit: int = LIST_LIMIT
) -> tuple[list[dict[str, Any]], bool]:
    """The region's volunteers matching the filters, by name, each with their last supervision date;
    and whether there were more than `limit`."""
    query = Volunteer.select(
        Volunteer.id,
        Volunteer.public_id,
        Volunteer.display_name,
        Volunteer.status,
        Volunteer.home_district,
        Volunteer.dbs_certificate_on,
    ).where(Volunteer.region == region_id)
    if status in VolunteerStatus.__members__:
        query = query.where(Volunteer.status == status)
    # LIKE wildcards typed into the box would match everything; Piccolo offers no ESCAPE clause, so drop them.
    term = " ".join(search.replace("%", " ").replace("_", " ").split())[:100]
    if term:
        # SQLite's LIKE already ignores case (for ASCII letters); PostgreSQL needs ILIKE.
        pattern = f"%{term}%"
        if is_postgres():
            query = query.where(Volunteer.display_name.ilike(pattern) | Volunteer.email.ilike(pattern))
        else:
            query = query.where(Volunteer.display_name.like(pattern) | Volunteer.email.like(pattern))
    rows = await query.order_by(Volunteer.display_name).order_by(Volunteer.id).limit(limit + 1)
    last = await last_supervision_dates(region_id) if rows else {}
    for row in rows:
        row["last_supervision_on"] = last.get(row["id"])
    return rows[:limit], len(rows) > limit


async def find_volunteer(region_id: int, public_id: UUID) -> dict[str, Any] | None:
    return (
        await Volunteer.select()
        .where(Volunteer.public_id == public_id, Volunteer.region == region_id)
        .output(load_json=True)
        .first()
    )


async def email_in_region(region_id: int, email: str, *, except_id: int | None = None) -> bool:
    query = Volunteer.exists().where(Volunteer.region == region_id, Volunteer.email == email)
    if except_id is not None:
        query = query.where(Volunteer.id != except_id)
    return await query


async def status_history(volunteer_id: int) -> list[dict[str, Any]]:
    return (
        await VolunteerStatusChange.select(
            VolunteerStatusChange.from_status,
            VolunteerStatusChange.to_status,
            VolunteerStatusChange.changed_at,
            VolunteerStatusChange.reason,
            VolunteerStatusChange.changed_by.display_name.as_alias("changed_by_name"),
        )
        .where(VolunteerStatusChange.volunteer == volunteer_id)
        .order_by(VolunteerStatusChange.changed_at, ascending=False)
        .order_by(VolunteerStatusChange.id, ascending=False)
    )


async def supervision_sessions(volunteer_id: int) -> list[dict[str, Any]]:
    return (
        await SupervisionSession.select(
            SupervisionSession.public_id,
            SupervisionSession.held_on,
            SupervisionSession.notes,
            SupervisionSession.coordinator.display_name.as_alias("coordinator_name"),
        )
        .where(SupervisionSession.volunteer == volunteer_id)
        .order_by(SupervisionSession.held_on, ascending=False)
        .order_by(SupervisionSession.id, ascending=False)
    )


async def account_of(volunteer: dict[str, Any]) -> dict[str, Any] | None:
    """The volunteer's sign-in account: whether it is active and whether they have set a password."""
    if volunteer["user"] is None:
        return None
    row = (
        await User.select(User.public_id, User.email, User.is_active, User.password_hash, User.activated_at)
        .where(User.id == volunteer["user"])
        .first()
    )
    if row is None:
        return None
    activated = bool(row.pop("password_hash"))
    return {**row, "activated": activated}


# --- writing -------------------------------------------------------------------------------------------


def _profile_columns(profile: Profile) -> dict[Any, Any]:
    return {getattr(Volunteer, name): getattr(profile, name) for name in PROFILE_FIELDS}


async def create_volunteer(*, by: Any, region_id: int, profile: Profile, now: datetime) -> dict[str, Any]:
    """A new applicant, the first step of their timeline and the audit row, together."""
    async with write_transaction():
        rows = await Volunteer.insert(
            Volunteer(
                region=region_id,
                status=VolunteerStatus.applicant.value,
                status_changed_at=now,
                created_at=now,
                **{name: getattr(profile, name) for name in PROFILE_FIELDS},
            )
        ).returning(Volunteer.id, Volunteer.public_id)
        volunteer = rows[0]
        await VolunteerStatusChange.insert(
            VolunteerStatusChange(
                volunteer=volunteer["id"],
                from_status="",
                to_status=VolunteerStatus.applicant.value,
                changed_at=now,
                changed_by=by.id,
            )
        )
        await audit.record(
            VolunteerAction.CREATED, actor=by, object_type="volunteer", object_id=volunteer["public_id"], now=now
        )
    return volunteer


async def update_profile(*, by: Any, volunteer: dict[str, Any], profile: Profile, now: datetime) -> list[str]:
    """Save the profile; returns the names of the fields that changed (audited by name only)."""
    changed = [name for name in PROFILE_FIELDS if getattr(profile, name) != volunteer[name]]
    if not changed:
        return []
    async with write_transaction():
        await Volunteer.update(_profile_columns(profile)).where(Volunteer.id == volunteer["id"])
        await audit.record(
            VolunteerAction.UPDATED,
            actor=by,
            object_type="volunteer",
            object_id=volunteer["public_id"],
            detail={"fields": changed},
            now=now,
        )
    return changed


async def record_vetting(*, by: Any, volunteer: dict[str, Any], vetting: Vetting, now: datetime) -> list[str]:
    changed = [name for name in VETTING_FIELDS if getattr(vetting, name) != volunteer[name]]
    if not changed:
        return []
    async with write_transaction():
        await Volunteer.update({getattr(Volunteer, name): getattr(vetting, name) for name in VETTING_FIELDS}).where(
            Volunteer.id == volunteer["id"]
        )
        await audit.record(
            VolunteerAction.VETTING_RECORDED,
            actor=by,
            object_type="volunteer",
            object_id=volunteer["public_id"],
            detail={"fields": changed},
            now=now,
        )
    return changed


class StatusChangeRefused(Exception):
    """Why a status change cannot happen: "not_allowed", "not_ready" (with what is missing) or "changed"."""

    def __init__(self, code: str, missing: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.missing = missing or []


async def change_status(
    *, by: Any, volunteer: dict[str, Any], to_status: str, reason: str, renewal_years: int, now: datetime
) -> None:
    """Move a volunteer along the pipeline. Leaving also closes their sign-in account, if they have one."""
    async with write_transaction():
        # Checked again inside the transaction, against the row as it is now, not as the page showed it.
        current = await Volunteer.select().where(Volunteer.id == volunteer["id"]).first()
        if current is None:
            raise StatusChangeRefused("changed")
        from_status = current["status"]
        if to_status not in TRANSITIONS.get(from_status, ()):
            raise StatusChangeRefused("changed" if from_status != volunteer["status"] else "not_allowed")
        if to_status == VolunteerStatus.active:
            missing = missing_for_active(vetting_of(current), london_today(now), renewal_years)
            if missing:
                raise StatusChangeRefused("not_ready", missing)
        updated = (
            await Volunteer.update(
                {
                    Volunteer.status: to_status,
                    Volunteer.status_changed_at: now,
                    Volunteer.left_reason: reason if to_status == VolunteerStatus.left else current["left_reason"],
                }
            )
            .where(Volunteer.id == current["id"], Volunteer.status == from_status)
            .returning(Volunteer.id)
        )
        if not updated:
            raise StatusChangeRefused("changed")
        await VolunteerStatusChange.insert(
            VolunteerStatusChange(
                volunteer=current["id"],
                from_status=from_status,
                to_status=to_status,
                changed_at=now,
                changed_by=by.id,
                reason=reason,
            )
        )
        await audit.record(
            VolunteerAction.STATUS_CHANGED,
            actor=by,
            object_type="volunteer",
            object_id=current["public_id"],
            detail={"from": from_status, "to": to_status, "reason": reason},
            now=now,
        )
        if to_status == VolunteerStatus.left and current["user"] is not None:
            account = await User.select().where(User.id == current["user"], User.is_active.eq(True)).first()
            if account is not None:
                await set_active(by=by, user=account, active=False, now=now)


async def add_supervision(*, by: Any, volunteer: dict[str, Any], held_on: date, notes: str, now: datetime) -> None:
    async with write_transaction():
        rows = await SupervisionSession.insert(
            SupervisionSession(
                volunteer=volunteer["id"], coordinator=by.id, held_on=held_on, notes=notes, created_at=now
            )
        ).returning(SupervisionSession.public_id)
        await audit.record(
            VolunteerAction.SUPERVISION_RECORDED,
            actor=by,
            object_type="volunteer",
            object_id=volunteer["public_id"],
            detail={"session": str(rows[0]["public_id"])},
            now=now,
        )


class AccountRefused(Exception):
    """Why no account was created: "not_eligible", "has_account" or "email_taken"."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def create_account(
    settings: Settings, jinja: Environment, *, by: Any, volunteer: dict[str, Any], locale: str, now: datetime
) -> dict[str, Any]:
    """Invite the volunteer to sign in and link the new account to them, in one transaction."""
    try:
        async with write_transaction():
            current = (
                await Volunteer.select(Volunteer.status, Volunteer.user).where(Volunteer.id == volunteer["id"]).first()
            )
            if current is None or current["status"] not in ACCOUNT_STATUSES:
                raise AccountRefused("not_eligible")
            if current["user"] is not None:
                raise AccountRefused("has_account")
            user = await invite_user(
                settings,
                jinja,
                by=by,
                email=volunteer["email"],
                display_name=volunteer["display_name"],
                role="volunteer",
                locale=locale,
                region_id=volunteer["region"],
                now=now,
            )
            await Volunteer.update({Volunteer.user: user["id"]}).where(Volunteer.id == volunteer["id"])
            await audit.record(
                VolunteerAction.ACCOUNT_CREATED,
                actor=by,
                object_type="volunteer",
                object_id=volunteer["public_id"],
                detail={"user": str(user["public_id"])},
                now=now,
            )
    except EmailTaken:
        raise AccountRefused("email_taken") from None
    outbox.wake()
    return user


# --- the coordinator's dashboard -----------------------------------------------------------------------


async def coordinator_alerts(region_id: int, today: date, renewal_years: int) -> dict[str, list[dict[str, Any]]]:
    """What needs a coordinator's attention in their region, in three queries whatever the numbers:

    - dbs_expired: trained, active or resting volunteers whose DBS has expired (date: when it expired);
    - dbs_expiring: the same whose DBS expires within DBS_WARNING_DAYS (date: when it will);
    - no_supervision: active volunteers with no supervision in the last SUPERVISION_MONTHS months
      (date: their last session, or None when they have never had one).

    Each item has "public_id", "display_name" and "date", the date also under a name that says what it is
    ("dbs_expires_on" or "last_supervision"); lists are ordered most urgent first.
    """
    horizon = today + timedelta(days=DBS_WARNING_DAYS)
    # A day of slack covers certificates dated 29 February; the exact test is dbs_state() below.
    latest_certificate = add_years(horizon, -renewal_years) + timedelta(days=1)
    dbs_rows = await Volunteer.select(Volunteer.public_id, Volunteer.display_name, Volunteer.dbs_certificate_on).where(
        Volunteer.region == region_id,
        Volunteer.status.is_in([s.value for s in DBS_WATCH_STATUSES]),
        Volunteer.dbs_certificate_on.is_not_null(),
        Volunteer.dbs_certificate_on <= latest_certificate,
    )
    expired: list[dict[str, Any]] = []
    expiring: list[dict[str, Any]] = []
    for row in dbs_rows:
        expires, state = dbs_state(row["dbs_certificate_on"], renewal_years, today)
        item = {
            "public_id": row["public_id"],
            "display_name": row["display_name"],
            "date": expires,
            "dbs_expires_on": expires,
        }
        if state == "expired":
            expired.append(item)
        elif state == "expiring":
            expiring.append(item)

    active_rows = await Volunteer.select(Volunteer.id, Volunteer.public_id, Volunteer.display_name).where(
        Volunteer.region == region_id, Volunteer.status == VolunteerStatus.active.value
    )
    last = await last_supervision_dates(region_id, (VolunteerStatus.active.value,)) if active_rows else {}
    cutoff = months_before(today, SUPERVISION_MONTHS)
    unsupervised = [
        {
            "public_id": row["public_id"],
            "display_name": row["display_name"],
            "date": last.get(row["id"]),
            "last_supervision": last.get(row["id"]),
        }
        for row in active_rows
        if last.get(row["id"]) is None or last[row["id"]] < cutoff
    ]

    def by_date(item: dict[str, Any]) -> tuple[date, str]:
        return item["date"] or date.min, item["display_name"]

    return {
        "dbs_expired": sorted(expired, key=by_date),
        "dbs_expiring": sorted(expiring, key=by_date),
        "no_supervision": sorted(unsupervised, key=by_date),
    }
