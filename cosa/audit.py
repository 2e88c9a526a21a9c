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
