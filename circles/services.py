"""Core member records: who may reach them, their needs, risk connections, notes and NRM record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from litestar.connection import ASGIConnection
from piccolo.columns.combination import Where, WhereRaw

from circles.tables import (
    CaseNote,
    Circle,
    CircleMembership,
    CoreMember,
    MembershipStatus,
    NeedArea,
    NeedChange,
    NeedStatus,
    RiskConnection,
)
from cosa import audit
from cosa.auth import found_or_deny
from cosa.db import write_transaction
from cosa.tables import Role
from volunteers.tables import Volunteer

NEVER = WhereRaw("1 = 0")


# --- who may reach what ------------------------------------------------------------------------------


def core_member_scope(user: Any) -> Where | WhereRaw:
    """Coordinators reach their region's core members; probation officers their own caseload."""
    if user.role == Role.coordinator.value and user.region:
        return CoreMember.region == user.region
    if user.role == Role.probation.value:
        return CoreMember.probation_officer == user.id
    return NEVER


def circle_scope(user: Any) -> Where | WhereRaw:
    """Coordinators reach their region's circles, probation officers their caseload's, volunteers their own."""
    if user.role == Role.coordinator.value and user.region:
        return Circle.region == user.region
    if user.role == Role.probation.value:
        return Circle.core_member._.probation_officer == user.id
    if user.role == Role.volunteer.value:
        return Circle.id.is_in(
            CircleMembership.select(CircleMembership.circle).where(
                CircleMembership.volunteer.is_in(Volunteer.select(Volunteer.id).where(Volunteer.user == user.id)),
                CircleMembership.status.is_in([MembershipStatus.accepted.value, MembershipStatus.invited.value]),
            )
        )
    return NEVER


async def core_member_or_404(connection: ASGIConnection[Any, Any, Any, Any], public_id: Any) -> dict[str, Any]:
    user = connection.scope["user"]
    row = (
        await CoreMember.select()
        .where(CoreMember.public_id == public_id, core_member_scope(user))
        .output(load_json=True)
        .first()
    )
    return await found_or_deny(connection, row, "core_member", public_id)


# --- needs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedView:
    area: str
    status: str  # "" when never assessed
    since: date | None
    history: list[dict[str, Any]]


async def needs_of(core_member_id: int) -> list[NeedView]:
    """Every need area with its current status and its history, newest first (one query)."""
    rows = (
        await NeedChange.select(
            NeedChange.area, NeedChange.status, NeedChange.changed_on, NeedChange.changed_by._.display_name
        )
        .where(NeedChange.core_member == core_member_id)
        .order_by(NeedChange.changed_on, ascending=False)
        .order_by(NeedChange.id, ascending=False)
    )
    by_area: dict[str, list[dict[str, Any]]] = {area.value: [] for area in NeedArea}
    for row in rows:
        by_area[row["area"]].append(row)
    return [
        NeedView(area, history[0]["status"] if history else "", history[0]["changed_on"] if history else None, history)
        for area, history in by_area.items()
    ]


async def set_need(*, by: Any, core_member: dict[str, Any], area: str, status: str, on: date, now: datetime) -> bool:
    """Record a need's new status (with its date); False when it already had that status."""
    async with write_transaction():
        current = (
            await NeedChange.select(NeedChange.status)
            .where(NeedChange.core_member == core_member["id"], NeedChange.area == area)
            .order_by(NeedChange.changed_on, ascending=False)
            .order_by(NeedChange.id, ascending=False)
            .first()
        )
        if current is not None and current["status"] == status:
            return False
        await NeedChange.insert(
            NeedChange(
                core_member=core_member["id"], area=area, status=status, changed_on=on, changed_at=now, changed_by=by.id
            )
        )
        await audit.record(
            audit.Action.NEED_CHANGED,
            actor=by,
            object_type="core_member",
            object_id=core_member["public_id"],
            detail={"area": area, "status": status},
            now=now,
        )
    return True


def needs_summary(needs: list[NeedView]) -> dict[str, int]:
    counts = {status.value: 0 for status in NeedStatus}
    counts["unassessed"] = 0
    for need in needs:
        counts[need.status or "unassessed"] += 1
    return counts


# --- risk connections and the address warning --------------------------------------------------------


async def risk_connections_of(core_member_id: int) -> list[dict[str, Any]]:
    return (
        await RiskConnection.select()
        .where(RiskConnection.core_member == core_member_id)
        .order_by(RiskConnection.id)
        .output(load_json=True)
    )


def address_warnings(address_district: str, connections: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The risk connections whose districts include the core member's recorded address district."""
    if not address_district:
        return []
    return [c for c in connections if address_district in (c["districts"] or [])]


def nrm_days_waiting(core_member: dict[str, Any], today: date) -> tuple[str, int] | None:
    """("reasonable"|"conclusive", days) while a decision is awaited, counted from the referral."""
    referred = core_member["nrm_referred_on"]
    if referred is None:
        return None
    if not core_member["nrm_reasonable_grounds"]:
        return "reasonable", (today - referred).days
    if core_member["nrm_reasonable_grounds"] == "positive" and not core_member["nrm_conclusive_grounds"]:
        return "conclusive", (today - referred).days
    return None


# --- notes -------------------------------------------------------------------------------------------


async def notes_of(core_member_id: int, *, shared_only: bool = False) -> list[dict[str, Any]]:
    query = CaseNote.select(
        CaseNote.public_id,
        CaseNote.body,
        CaseNote.shared_with_circle,
        CaseNote.created_at,
        CaseNote.created_by._.display_name,
    ).where(CaseNote.core_member == core_member_id)
    if shared_only:
        query = query.where(CaseNote.shared_with_circle.eq(True))
    return await query.order_by(CaseNote.created_at, ascending=False)
