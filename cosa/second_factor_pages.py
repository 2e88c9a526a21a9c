"""The second-factor pages: the code after the password, enrolment, recovery codes, and the account's own
controls (volunteers opting in or out, new recovery codes). The logic is in cosa/second_factor.py."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect

from cosa import audit, i18n, second_factor
from cosa.audit import Action
from cosa.auth import (
    clear_account_failures,
    client_address,
    locked_until,
    record_failure,
    second_factor_pending,
    session_cookie,
    signed_in,
    start_session,
    throttle_keys,
)
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.forms import FormResult, read_form, safe_next
from cosa.settings import Settings
from cosa.tables import Role, User, UserSession
from cosa.web import flash, render

Req = Request[Any, Any, Any]


def _settings(request: Req) -> Settings:
    return request.app.state.settings


def _pending_user(request: Req) -> Any:
    """The user whose password was right, waiting to give the second factor (see cosa/auth.py)."""
    scope: dict[str, Any] = request.scope  # type: ignore[assignment]
    return scope["pending_user"]


async def _fresh_user(user_id: int) -> Any:
    return await User.objects().where(User.id == user_id).first()


async def _enrolment_secret(settings: Settings, user: Any) -> str:
    """The secret being enrolled: kept (sealed) on the account between showing the QR code and confirming
    it, so a reload shows the same code; a new one when there is none or it cannot be read."""
    secret = second_factor.unseal(settings, user.totp_secret) if user.totp_secret else None
    if secret is None:
        secret = second_factor.new_secret()
        async with write_transaction():
            await User.update({User.totp_secret: second_factor.seal(settings, secret)}).where(
                User.id == user.id, User.totp_enabled_at.is_null()
            )
    return secret


def _enrolment_context(secret: str, user: Any) -> dict[str, Any]:
    uri = second_factor.provisioning_uri(secret, user.email)
    return {
        "qr_svg": second_factor.qr_svg(uri, i18n.gettext("QR code to scan with your authenticator app")),
        "manual_key": second_factor.group_key(secret),
    }


async def _throttled(request: Req, settings: Settings, user: Any, now: datetime) -> str | None:
    """A message when this account or address is locked after too many wrong codes or passwords."""
    ends = await locked_until(throttle_keys(settings, user.email, client_address(request)), now)
    if ends is None:
        return None
    minutes = max(1, math.ceil((ends - now).total_seconds() / 60))
    await audit.record(
        Action.LOGIN_THROTTLED, actor=user, detail={"minutes": minutes, "step": "second_factor"}, now=now
    )
    return i18n.ngettext(
        "Too many attempts to sign in. Wait %(num)s minute and try again.",
        "Too many attempts to sign in. Wait %(num)s minutes and try again.",
        minutes,
    )


async def _wrong_code(request: Req, settings: Settings, user: Any, now: datetime) -> None:
    await record_failure(throttle_keys(settings, user.email, client_address(request)), now)
    await audit.record(Action.LOGIN_FAILED, actor=user, detail={"reason": "second_factor"}, now=now)


async def _check_code(settings: Settings, user: Any, secret: str, code: str, now: datetime) -> bool:
    step = second_factor.matching_step(secret, code, now)
    return step is not None and await second_factor.use_step(user.id, step)


async def _finish_sign_in(request: Req, user: Any, method: str, now: datetime) -> str:
    """Swap the pending session for a full one under a new id; returns the new token."""
    settings = _settings(request)
    async with write_transaction():
        await UserSession.delete().where(UserSession.id == request.scope["auth"]["id"])
        token = await start_session(settings, user.id, now)
        await clear_account_failures(settings, user.email)
        await audit.record(
            Action.LOGIN,
            actor=user,
            object_type="user",
            object_id=user.public_id,
            detail={"second_factor": method},
            now=now,
        )
    if user.locale:
        i18n.set_locale(user.locale)
    return token


class SecondFactorSignInController(Controller):
    """After the password: the code, or enrolment for staff who have none yet."""

    path = "/login/second-factor"
    guards = [second_factor_pending]

    @get("/", name="auth:second_factor")
    async def code_page(self, request: Req) -> Response[Any]:
        user = _pending_user(request)
        next_url = safe_next(request.query_params.get("next"), "")
        if not second_factor.is_enrolled(user):
            target = request.app.route_reverse("auth:second_factor_setup")
            return Redirect(path=target + (f"?next={quote(next_url, safe='/')}" if next_url else ""), status_code=303)
        return render(request, "auth/second_factor.html", {"next": next_url})

    @post("/", name="auth:second_factor_submit")
    async def submit_code(self, request: Req) -> Response[Any]:
        settings = _settings(request)
        now = utcnow()
        user = await _fresh_user(_pending_user(request).id)
        result = FormResult(await read_form(request))
        next_url = safe_next(result.values.get("next"), "")
        code = result.values.get("code", "").strip()
        context: dict[str, Any] = {"next": next_url}
        if not second_factor.is_enrolled(user):
            return Redirect(path=request.app.route_reverse("auth:second_factor_setup"), status_code=303)
        if not code:
            result.error(
                "code", i18n.gettext("Enter the 6-digit code from your authenticator app, or a recovery code.")
            )
            return render(request, "auth/second_factor.html", {**context, "errors": result.errors}, status_code=400)
        message = await _throttled(request, settings, user, now)
        if message:
            return render(request, "auth/second_factor.html", {**context, "form_error": message}, status_code=429)

        secret = second_factor.unseal(settings, user.totp_secret) or ""
        method = ""
        async with write_transaction():
            if secret and await _check_code(settings, user, secret, code, now):
                method = "totp"
            elif await second_factor.use_recovery_code(settings, user.id, code, now):
                method = "recovery_code"
                await audit.record(
                    Action.RECOVERY_CODE_USED, actor=user, object_type="user", object_id=user.public_id, now=now
                )
        if not method:
            await _wrong_code(request, settings, user, now)
            result.error(
                "code",
                i18n.gettext("That code is not right, or it has been used already. Wait for a new code and try again."),
            )
            return render(request, "auth/second_factor.html", {**context, "errors": result.errors}, status_code=400)

        token = await _finish_sign_in(request, user, method, now)
        if method == "recovery_code":
            left = await second_factor.recovery_codes_left(user.id)
            flash(
                request,
                "info",
                i18n.ngettext(
                    "You signed in with a recovery code. You have %(num)s left: make new ones from your account page.",
                    "You signed in with a recovery code. You have %(num)s left: make new ones from your account page.",
                    left,
                ),
            )
        response = Redirect(path=next_url or "/", status_code=303)
        response.set_cookie(session_cookie(settings, token))
        return response

    @get("/setup", name="auth:second_factor_setup")
    async def setup_page(self, request: Req) -> Response[Any]:
        user = await _fresh_user(_pending_user(request).id)
        next_url = safe_next(request.query_params.get("next"), "")
        if second_factor.is_enrolled(user):
            return Redirect(path=request.app.route_reverse("auth:second_factor"), status_code=303)
        secret = await _enrolment_secret(_settings(request), user)
        context = {"next": next_url, "action": "auth:second_factor_setup_submit", **_enrolment_context(secret, user)}
        return render(request, "auth/second_factor_setup.html", context)

    @post("/setup", name="auth:second_factor_setup_submit")
    async def setup_submit(self, request: Req) -> Response[Any]:
        settings = _settings(request)
        now = utcnow()
        user = await _fresh_user(_pending_user(request).id)
        result = FormResult(await read_form(request))
        next_url = safe_next(result.values.get("next"), "")
        if second_factor.is_enrolled(user):
            return Redirect(path=request.app.route_reverse("auth:second_factor"), status_code=303)
        message = await _throttled(request, settings, user, now)
        secret = await _enrolment_secret(settings, user)
        context = {"next": next_url, "action": "auth:second_factor_setup_submit", **_enrolment_context(secret, user)}
        if message:
            return render(request, "auth/second_factor_setup.html", {**context, "form_error": message}, status_code=429)
        codes = await _enable(request, settings, user, secret, result, now)
        if codes is None:
            return render(
                request, "auth/second_factor_setup.html", {**context, "errors": result.errors}, status_code=400
            )
        token = await _finish_sign_in(request, user, "totp", now)
        response = render(
            request, "auth/recovery_codes.html", {"codes": codes, "continue_url": next_url or "/", "first_time": True}
        )
        response.set_cookie(session_cookie(settings, token))
        return response


async def _enable(
    request: Req, settings: Settings, user: Any, secret: str, result: FormResult, now: datetime
) -> list[str] | None:
    """Confirm enrolment with a code from the app; returns the new recovery codes, or None (errors set)."""
    code = result.values.get("code", "").strip()
    if not code:
        result.error("code", i18n.gettext("Enter the 6-digit code your authenticator app shows for CoSA Circles."))
        return None
    async with write_transaction():
        if await _check_code(settings, user, secret, code, now):
            await User.update({User.totp_enabled_at: now}).where(User.id == user.id)
            codes = await second_factor.replace_recovery_codes(settings, user.id, now)
            await audit.record(
                Action.SECOND_FACTOR_ENABLED, actor=user, object_type="user", object_id=user.public_id, now=now
            )
            return codes
    await _wrong_code(request, settings, user, now)
    result.error(
        "code",
        i18n.gettext("That code is not right. Check the app shows CoSA Circles and type the newest 6-digit code."),
    )
    return None


class SecondFactorAccountController(Controller):
    """The signed-in user's own second factor: volunteers turn it on or off; everyone can get new
    recovery codes. Changes need a current code, so a borrowed unlocked session cannot quietly swap it."""

    path = "/account/second-factor"
    guards = [signed_in]

    @get("/", name="account:second_factor")
    async def page(self, request: Req) -> Response[Any]:
        user = await _fresh_user(request.scope["user"].id)
        if second_factor.is_enrolled(user):
            return Redirect(
                path=request.app.route_reverse("account:detail") + "#second-factor-heading", status_code=303
            )
        secret = await _enrolment_secret(_settings(request), user)
        context = {"next": "", "action": "account:second_factor_enable", **_enrolment_context(secret, user)}
        return render(request, "auth/second_factor_setup.html", context)

    @post("/", name="account:second_factor_enable")
    async def enable(self, request: Req) -> Response[Any]:
        settings = _settings(request)
        now = utcnow()
        user = await _fresh_user(request.scope["user"].id)
        if second_factor.is_enrolled(user):
            return Redirect(path=request.app.route_reverse("account:detail"), status_code=303)
        result = FormResult(await read_form(request))
        secret = await _enrolment_secret(settings, user)
        context = {"next": "", "action": "account:second_factor_enable", **_enrolment_context(secret, user)}
        message = await _throttled(request, settings, user, now)
        if message:
            return render(request, "auth/second_factor_setup.html", {**context, "form_error": message}, status_code=429)
        codes = await _enable(request, settings, user, secret, result, now)
        if codes is None:
            return render(
                request, "auth/second_factor_setup.html", {**context, "errors": result.errors}, status_code=400
            )
        continue_url = request.app.route_reverse("account:detail")
        return render(
            request, "auth/recovery_codes.html", {"codes": codes, "continue_url": continue_url, "first_time": True}
        )

    async def _confirmed(self, request: Req, result: FormResult, now: datetime) -> Any:
        """The user when the current code in the form is right; otherwise None with the error set."""
        settings = _settings(request)
        user = await _fresh_user(request.scope["user"].id)
        code = result.values.get("code", "").strip()
        if not code:
            result.error("code", i18n.gettext("Enter the 6-digit code from your authenticator app."))
            return None
        message = await _throttled(request, settings, user, now)
        if message:
            result.error("code", message)
            return None
        secret = second_factor.unseal(settings, user.totp_secret) or ""
        async with write_transaction():
            if secret and await _check_code(settings, user, secret, code, now):
                return user
        await _wrong_code(request, settings, user, now)
        result.error(
            "code",
            i18n.gettext("That code is not right, or it has been used already. Wait for a new code and try again."),
        )
        return None

    async def _account_page(self, request: Req, result: FormResult) -> Response[Any]:
        from cosa.accounts import AccountController

        return await AccountController._page(request, second_factor_errors=result.errors, status_code=400)

    @post("/recovery-codes", name="account:recovery_codes")
    async def new_recovery_codes(self, request: Req) -> Response[Any]:
        now = utcnow()
        result = FormResult(await read_form(request))
        user = await self._confirmed(request, result, now)
        if user is None or not second_factor.is_enrolled(user):
            return await self._account_page(request, result)
        async with write_transaction():
            codes = await second_factor.replace_recovery_codes(_settings(request), user.id, now)
            await audit.record(
                Action.RECOVERY_CODES_REPLACED, actor=user, object_type="user", object_id=user.public_id, now=now
            )
        continue_url = request.app.route_reverse("account:detail")
        return render(
            request, "auth/recovery_codes.html", {"codes": codes, "continue_url": continue_url, "first_time": False}
        )

    @post("/turn-off", name="account:second_factor_turn_off")
    async def turn_off(self, request: Req) -> Response[Any]:
        now = utcnow()
        result = FormResult(await read_form(request))
        if request.scope["user"].role != Role.volunteer.value:
            # Staff cannot turn it off; only an administrator's reset removes it (and asks for a new one).
            result.error("code", i18n.gettext("Staff accounts must keep two-step verification."))
            return await self._account_page(request, result)
        user = await self._confirmed(request, result, now)
        if user is None:
            return await self._account_page(request, result)
        async with write_transaction():
            await second_factor.clear(user.id)
            await audit.record(
                Action.SECOND_FACTOR_TURNED_OFF, actor=user, object_type="user", object_id=user.public_id, now=now
            )
        flash(request, "success", i18n.gettext("Two-step verification is off. You sign in with your password alone."))
        return Redirect(path=request.app.route_reverse("account:detail"), status_code=303)


ROUTES = [SecondFactorSignInController, SecondFactorAccountController]
