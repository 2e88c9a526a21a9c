"""Circles: opening one, its lifecycle, covenant, members and outer circle. Every change is audited."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from circles.lifecycle import MAX_VOLUNTEERS, CircleFacts, problems
from circles.tables import Circle, CircleMembership, CircleState, CircleTransition, MembershipStatus
from cosa import audit, i18n
from cosa.audit import Action
from cosa.db import write_transaction

OPEN_STATES = [s.value for s in CircleState if s not in (CircleState.closed, CircleState.terminated)]
SEATED = [MembershipStatus.accepted.value]
PENDING_OR_SEATED = [MembershipStatus.invited.value, MembershipStatus.accepted.value]


class CircleRuleBroken(Exception):
    """A change the circle's rules do not allow; `message` says why, in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def circle_state_labels() -> dict[str, str]:
    return {
        CircleState.referred: i18n.gettext("Referred"),
        CircleState.accepted: i18n.gettext("Accepted"),
        CircleState.forming: i18n.gettext("Forming"),
        CircleState.active: i18n.gettext("Active"),
        CircleState.tapering: i18n.gettext("Tapering"),
        CircleState.ending: i18n.gettext("Ending"),
        CircleState.closed: i18n.gettext("Closed"),
        CircleState.paused: i18n.gettext("Paused"),
        CircleState.terminated: i18n.gettext("Terminated"),
    }


def problem_messages() -> dict[str, str]:
    return {
        "not_allowed": i18n.gettext("The circle cannot move to that stage from where it is now."),
        "too_few_volunteers": i18n.gettext(
            "A circle needs at least 3 volunteers who have accepted before it can become active."
        ),
        "covenant_not_signed": i18n.gettext("The covenant must be signed before the circle can become active."),
        "reason_required": i18n.gettext("Give a reason: pausing or ending a circle early is recorded with why."),
    }


async def open_circle_of(core_member_id: int) -> dict[str, Any] | None:
    return (
        await Circle.select(Circle.id, Circle.public_id)
        .where(Circle.core_member == core_member_id, Circle.state.is_in(OPEN_STATES))
        .first()
    )


async def open_circle(*, by: Any, core_member: dict[str, Any], fields: dict[str, Any], now: datetime) -> Any:
    """Open a circle for a core member (one open circle each); returns its public id."""
    async with write_transaction():
        if await open_circle_of(core_member["id"]) is not None:
            raise CircleRuleBroken(i18n.gettext("This core member already has an open circle."))
        rows = await Circle.insert(
            Circle(
                **fields,
                core_member=core_member["id"],
                region=core_member["region"],
                coordinator=by.id,
                state=CircleState.referred.value,
                state_changed_at=now,
                created_at=now,
            )
        ).returning(Circle.id, Circle.public_id)
        await CircleTransition.insert(
            CircleTransition(circle=rows[0]["id"], from_state="", to_state=CircleState.referred.value, at=now, by=by.id)
        )
        await audit.record(
            Action.CIRCLE_OPENED, actor=by, object_type="circle", object_id=rows[0]["public_id"], now=now
        )
    return rows[0]["public_id"]


async def seated_count(circle_id: int) -> int:
    return await CircleMembership.count().where(
        CircleMembership.circle == circle_id, CircleMembership.status.is_in(SEATED)
    )


async def facts_of(circle: dict[str, Any]) -> CircleFacts:
    return CircleFacts(
        state=circle["state"],
        state_before_pause=circle["state_before_pause"],
        accepted_volunteers=await seated_count(circle["id"]),
        covenant_signed=circle["covenant_signed_on"] is not None and circle["covenant_version"] > 0,
    )


async def move_circle(*, by: Any, circle: dict[str, Any], target: str, reason: str, now: datetime) -> None:
    async with write_transaction():
        # Re-read inside the transaction so two coordinators cannot both move it from the same state.
        fresh = await Circle.select().where(Circle.id == circle["id"]).first()
        assert fresh is not None
        found = problems(await facts_of(fresh), target, reason)
        if found:
            messages = problem_messages()
            raise CircleRuleBroken(" ".join(messages[code] for code in found))
        changes: dict[Any, Any] = {Circle.state: target, Circle.state_changed_at: now}
        if target == CircleState.paused:
            changes[Circle.state_before_pause] = fresh["state"]
        elif fresh["state"] == CircleState.paused:
            changes[Circle.state_before_pause] = ""
        if target == CircleState.terminated:
            changes[Circle.termination_reason] = reason.strip()
        await Circle.update(changes).where(Circle.id == fresh["id"], Circle.state == fresh["state"])
        await CircleTransition.insert(
            CircleTransition(
                circle=fresh["id"], from_state=fresh["state"], to_state=target, reason=reason.strip(), at=now, by=by.id
            )
        )
        await audit.record(
            Action.CIRCLE_TRANSITION,
            actor=by,
            object_type="circle",
            object_id=fresh["public_id"],
            detail={"from": fresh["state"], "to": target},
            now=now,
        )


async def sign_covenant(*, by: Any, circle: dict[str, Any], text: str, signed_on: date, now: datetime) -> int:
    """Record a new version of the covenant, signed on the given date; returns the version number."""
    async with write_transaction():
        fresh = await Circle.select(Circle.covenant_version).where(Circle.id == circle["id"]).first()
        assert fresh is not None
        version = fresh["covenant_version"] + 1
        await Circle.update(
            {Circle.covenant_text: text, Circle.covenant_version: version, Circle.covenant_signed_on: signed_on}
        ).where(Circle.id == circle["id"])
        await audit.record(
            Action.COVENANT_SIGNED,
            actor=by,
            object_type="circle",
            object_id=circle["public_id"],
            detail={"version": version},
            now=now,
        )
    return version


async def invite_volunteer(*, by: Any, circle: dict[str, Any], volunteer: dict[str, Any], now: datetime) -> None:
    """Invite a volunteer the coordinator chose; the volunteer accepts or declines from their own login."""
    async with write_transaction():
        if circle["state"] in (CircleState.closed, CircleState.terminated):
            raise CircleRuleBroken(i18n.gettext("This circle has finished; it cannot take new volunteers."))
        if await CircleMembership.exists().where(
            CircleMembership.circle == circle["id"],
            CircleMembership.volunteer == volunteer["id"],
            CircleMembership.status.is_in(PENDING_OR_SEATED),
        ):
            raise CircleRuleBroken(i18n.gettext("This volunteer is already invited to or in this circle."))
        if (
            await CircleMembership.count().where(
                CircleMembership.circle == circle["id"], CircleMembership.status.is_in(PENDING_OR_SEATED)
            )
            >= MAX_VOLUNTEERS
        ):
            raise CircleRuleBroken(i18n.gettext("A circle has at most 6 volunteers, counting open invitations."))
        rows = await CircleMembership.insert(
            CircleMembership(
                circle=circle["id"],
                volunteer=volunteer["id"],
                status=MembershipStatus.invited.value,
                invited_at=now,
                invited_by=by.id,
            )
        ).returning(CircleMembership.public_id)
        await audit.record(
            Action.VOLUNTEER_INVITED_TO_CIRCLE,
            actor=by,
            object_type="circle",
            object_id=circle["public_id"],
            detail={"membership": str(rows[0]["public_id"])},
            now=now,
        )


async def respond_to_invitation(*, by: Any, membership: dict[str, Any], accept: bool, now: datetime) -> None:
    async with write_transaction():
        if (
            accept
            and await CircleMembership.count().where(
                CircleMembership.circle == membership["circle"], CircleMembership.status.is_in(SEATED)
            )
            >= MAX_VOLUNTEERS
        ):
            raise CircleRuleBroken(i18n.gettext("This circle is already full. Your coordinator will be in touch."))
        status = MembershipStatus.accepted if accept else MembershipStatus.declined
        updated = (
            await CircleMembership.update({CircleMembership.status: status.value, CircleMembership.responded_at: now})
            .where(CircleMembership.id == membership["id"], CircleMembership.status == MembershipStatus.invited.value)
            .returning(CircleMembership.id)
        )
        if not updated:
            raise CircleRuleBroken(i18n.gettext("You have already answered this invitation."))
        await audit.record(
            Action.INVITATION_ACCEPTED if accept else Action.INVITATION_DECLINED,
            actor=by,
            object_type="circle_membership",
            object_id=membership["public_id"],
            now=now,
        )


async def end_membership(*, by: Any, membership: dict[str, Any], now: datetime) -> None:
    """Withdraw an open invitation, or record that a volunteer has left the circle."""
    async with write_transaction():
        if membership["status"] == MembershipStatus.invited:
            status, action = MembershipStatus.withdrawn, Action.INVITATION_WITHDRAWN
        elif membership["status"] == MembershipStatus.accepted:
            status, action = MembershipStatus.left, Action.VOLUNTEER_LEFT_CIRCLE
        else:
            raise CircleRuleBroken(i18n.gettext("This volunteer is no longer in the circle."))
        await CircleMembership.update({CircleMembership.status: status.value, CircleMembership.left_at: now}).where(
            CircleMembership.id == membership["id"]
        )
        await audit.record(
            action, actor=by, object_type="circle_membership", object_id=membership["public_id"], now=now
        )
