"""The audit trail: who did what to which object, and when.

Call `record()` inside the same transaction as the change it describes (Piccolo picks up the open
transaction), so the change and its audit row commit or roll back together. Details hold identifiers and
codes only: never names, free text, passwords or tokens.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from cosa.clock import utcnow
from cosa.tables import AuditEvent

log = logging.getLogger("cosa.audit")


class Action:
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGIN_THROTTLED = "auth.login_throttled"
    LOGOUT = "auth.logout"
    SIGN_OUT_EVERYWHERE = "auth.sign_out_everywhere"
    SESSION_EXPIRED = "auth.session_expired"
    PASSWORD_SET = "auth.password_set"
    PASSWORD_CHANGED = "auth.password_changed"
    ACCESS_REFUSED = "access.refused"
    USER_INVITED = "user.invited"
    USER_INVITATION_RESENT = "user.invitation_resent"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    USER_ROLE_CHANGED = "user.role_changed"
    USER_LANGUAGE_CHANGED = "user.language_changed"
    REGION_CREATED = "region.created"
    CORE_MEMBER_REFERRED = "core_member.referred"
    CORE_MEMBER_UPDATED = "core_member.updated"
    CORE_MEMBER_VIEWED = "core_member.viewed"
    NRM_UPDATED = "core_member.nrm_updated"
    NEED_CHANGED = "core_member.need_changed"
    RISK_CONNECTION_ADDED = "core_member.risk_connection_added"
    RISK_CONNECTION_REMOVED = "core_member.risk_connection_removed"
    NOTE_ADDED = "core_member.note_added"
    NOTE_SHARING_CHANGED = "core_member.note_sharing_changed"
    CIRCLE_OPENED = "circle.opened"
    CIRCLE_UPDATED = "circle.updated"
    CIRCLE_TRANSITION = "circle.transition"
    COVENANT_SIGNED = "circle.covenant_signed"
    OUTER_MEMBER_ADDED = "circle.outer_member_added"
    OUTER_MEMBER_REMOVED = "circle.outer_member_removed"
    VOLUNTEER_INVITED_TO_CIRCLE = "circle.volunteer_invited"
    INVITATION_WITHDRAWN = "circle.invitation_withdrawn"
    INVITATION_ACCEPTED = "circle.invitation_accepted"
    INVITATION_DECLINED = "circle.invitation_declined"
    VOLUNTEER_LEFT_CIRCLE = "circle.volunteer_left"
    REGION_RENAMED = "region.renamed"


async def record(
    action: str,
    *,
    actor: Any = None,
    object_type: str = "",
    object_id: object = "",
    detail: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Write one audit row. `actor` is a User row (or None for an anonymous request)."""
    await AuditEvent.insert(
        AuditEvent(
            occurred_at=now or utcnow(),
            actor=actor.id if actor is not None else None,
            actor_role=actor.role if actor is not None else "",
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            detail=detail or {},
        )
    )
    log.info("audit %s %s", action, object_type)
