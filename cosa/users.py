"""Account services: invitations, activation, deactivation, role and password changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jinja2 import Environment

from cosa import audit, i18n, outbox
from cosa.audit import Action
from cosa.auth import end_all_sessions, hash_password, new_token, token_hash
from cosa.db import write_transaction
from cosa.settings import Settings
from cosa.tables import Invitation, User


class EmailTaken(Exception):
    pass


def invitable_roles() -> dict[str, str]:
    """Staff are invited by an administrator; volunteers get their account from their coordinator."""
    return {k: v for k, v in role_labels().items() if k != "volunteer"}


def role_labels() -> dict[str, str]:
    return {
        "coordinator": i18n.gettext("Coordinator"),
        "volunteer": i18n.gettext("Volunteer"),
        "probation": i18n.gettext("Probation officer"),
        "admin": i18n.gettext("Administrator"),
    }


async def _queue_invitation_email(
    settings: Settings, jinja: Environment, user: dict[str, Any], token: str, now: datetime, kind: str
) -> None:
    with i18n.in_locale(user["locale"]):  # the email goes out in the recipient's language
        link = f"{settings.base_url}/invitation/{token}"
        body = jinja.get_template("emails/invitation.txt").render(
            name=user["display_name"],
            link=link,
            hours=settings.invitation_valid_hours,
            reset=kind == "password_reset",
        )
        subject = (
            i18n.gettext("Set a new password for CoSA Circles")
            if kind == "password_reset"
            else i18n.gettext("You are invited to CoSA Circles")
        )
    await outbox.enqueue(settings, recipient=user["email"], subject=subject, body_text=body, kind=kind, now=now)


async def issue_invitation_token(settings: Settings, user_id: int, created_by: int | None, now: datetime) -> str:
    token = new_token()
    # Only the newest link works: older ones for this user are spent.
    await Invitation.update({Invitation.used_at: now}).where(Invitation.user == user_id, Invitation.used_at.is_null())
    await Invitation.insert(
        Invitation(
            token_hash=token_hash(token),
            user=user_id,
            created_by=created_by,
            created_at=now,
            expires_at=now + timedelta(hours=settings.invitation_valid_hours),
        )
    )
    return token


async def invite_user(
    settings: Settings,
    jinja: Environment,
    *,
    by: Any,
    email: str,
    display_name: str,
    role: str,
    locale: str,
    region_id: int | None,
    now: datetime,
) -> dict[str, Any]:
    """Create an account and queue its invitation email. Call inside a transaction to add more to it."""
    async with write_transaction():
        if await User.exists().where(User.email == email):
            raise EmailTaken
        rows = await User.insert(
            User(
                email=email,
                display_name=display_name,
                role=role,
                locale=locale,
                region=region_id,
                is_active=True,
                created_at=now,
            )
        ).returning(*User.all_columns())
        user = rows[0]
        token = await issue_invitation_token(settings, user["id"], by.id, now)
        await _queue_invitation_email(settings, jinja, user, token, now, "invitation")
        await audit.record(
            Action.USER_INVITED,
            actor=by,
            object_type="user",
            object_id=user["public_id"],
            detail={"role": role},
            now=now,
        )
    outbox.wake()
    return user


async def resend_invitation(
    settings: Settings, jinja: Environment, *, by: Any, user: dict[str, Any], now: datetime
) -> None:
    kind = "password_reset" if user["password_hash"] else "invitation"
    async with write_transaction():
        token = await issue_invitation_token(settings, user["id"], by.id, now)
        await _queue_invitation_email(settings, jinja, user, token, now, kind)
        await audit.record(
            Action.USER_INVITATION_RESENT,
            actor=by,
            object_type="user",
            object_id=user["public_id"],
            detail={"kind": kind},
            now=now,
        )
    outbox.wake()


async def find_invitation(token: str, now: datetime) -> dict[str, Any] | None:
    """The live invitation for this token, with its user, or None when it is unknown, used or expired."""
    if not token or len(token) > 100:
        return None
    return (
        await Invitation.select(*Invitation.all_columns(), *Invitation.user.all_columns())
        .where(
            Invitation.token_hash == token_hash(token),
            Invitation.used_at.is_null(),
            Invitation.expires_at > now,
            Invitation.user._.is_active.eq(True),
        )
        .first()
    )


async def accept_invitation(settings: Settings, invitation: dict[str, Any], password: str, now: datetime) -> bool:
    """Set the password from an invitation; False if the link was used meanwhile (a double submit)."""
    password_hash = await hash_password(settings, password)
    user_id = invitation["user"]
    async with write_transaction():
        spent = (
            await Invitation.update({Invitation.used_at: now})
            .where(Invitation.id == invitation["id"], Invitation.used_at.is_null())
            .returning(Invitation.id)
        )
        if not spent:
            return False
        await User.update(
            {User.password_hash: password_hash, User.password_changed_at: now, User.activated_at: now}
        ).where(User.id == user_id)
        await end_all_sessions(user_id)
        await audit.record(Action.PASSWORD_SET, object_type="user", object_id=invitation["user.public_id"], now=now)
    return True


async def change_password(settings: Settings, user: Any, new_password: str, now: datetime) -> None:
    password_hash = await hash_password(settings, new_password)
    async with write_transaction():
        await User.update({User.password_hash: password_hash, User.password_changed_at: now}).where(User.id == user.id)
        await end_all_sessions(user.id)
        await audit.record(Action.PASSWORD_CHANGED, actor=user, object_type="user", object_id=user.public_id, now=now)


async def set_active(*, by: Any, user: dict[str, Any], active: bool, now: datetime) -> None:
    async with write_transaction():
        await User.update({User.is_active: active, User.deactivated_at: None if active else now}).where(
            User.id == user["id"]
        )
        if not active:
            await end_all_sessions(user["id"])
        action = Action.USER_REACTIVATED if active else Action.USER_DEACTIVATED
        await audit.record(action, actor=by, object_type="user", object_id=user["public_id"], now=now)


async def change_access(*, by: Any, user: dict[str, Any], role: str, region_id: int | None, now: datetime) -> None:
    """A new role or region is a privilege change: every session of that user ends, so the next one is new."""
    async with write_transaction():
        await User.update({User.role: role, User.region: region_id}).where(User.id == user["id"])
        await end_all_sessions(user["id"])
        await audit.record(
            Action.USER_ROLE_CHANGED,
            actor=by,
            object_type="user",
            object_id=user["public_id"],
            detail={"from": user["role"], "to": role, "region_changed": region_id != user["region"]},
            now=now,
        )


async def active_admin_count() -> int:
    return await User.count().where(User.role == "admin", User.is_active.eq(True))
