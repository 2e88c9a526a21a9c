"""The shell's own scheduled jobs."""

from __future__ import annotations

from datetime import datetime, timedelta

from cosa import outbox
from cosa.clock import utcnow
from cosa.outbox import DeliveryReport
from cosa.scheduler import Job
from cosa.settings import Settings
from cosa.tables import Invitation, LoginThrottle, UserSession


async def deliver_outbox(settings: Settings) -> DeliveryReport:
    """A safety net under the outbox worker: delivers anything due if the worker was not woken."""
    return await outbox.deliver_due(settings)


async def remove_expired(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """Delete sessions, throttle counters and invitations that can no longer be used."""
    now = now or utcnow()
    idle_cut = now - timedelta(
        minutes=max(settings.session_idle_minutes_staff, settings.session_idle_minutes_volunteer)
    )
    sessions = (
        await UserSession.delete()
        .where((UserSession.expires_at < now) | (UserSession.last_seen_at < idle_cut))
        .returning(UserSession.id)
    )
    throttles = (
        await LoginThrottle.delete()
        .where(
            LoginThrottle.last_failure_at < now - timedelta(hours=1),
            (LoginThrottle.locked_until.is_null()) | (LoginThrottle.locked_until < now),
        )
        .returning(LoginThrottle.id)
    )
    invitations = (
        await Invitation.delete().where(Invitation.expires_at < now - timedelta(days=30)).returning(Invitation.id)
    )
    return {"sessions": len(sessions), "throttles": len(throttles), "invitations": len(invitations)}


JOBS = [
    Job("cosa.deliver_outbox", deliver_outbox, seconds=60),
    Job("cosa.remove_expired", remove_expired, seconds=3600),
]
