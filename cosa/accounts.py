"""Signing in and out, the user's own account, invitations and the language switcher."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from cosa import audit, i18n, second_factor
from cosa.audit import Action
from cosa.auth import (
    LANGUAGE_COOKIE,
    clear_account_failures,
    client_address,
    end_all_sessions,
    expired_session_cookie,
    locked_until,
    password_problem,
    public,
    record_failure,
    session_cookie,
    session_cookie_name,
    signed_in,
    start_session,
    throttle_keys,
    token_hash,
    verify_password,
)
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.forms import FormResult, check_email, read_form, safe_next
from cosa.settings import Settings
from cosa.tables import User, UserSession
from cosa.users import accept_invitation, change_password, find_invitation
from cosa.web import flash, render

Req = Request[Any, Any, Any]


def _settings(request: Req) -> Settings:
    return request.app.state.settings


class AuthController(Controller):
    path = "/"
    tags = ["auth"]

    @get("/login", name="auth:login", guards=[public])
    async def login_page(self, request: Req) -> Response[Any]:
        if request.scope.get("user") is not None:
            return Redirect(path=safe_next(request.query_params.get("next")), status_code=303)
        return render(request, "auth/login.html", {"next": safe_next(request.query_params.get("next"), "")})

    @post("/login", name="auth:login_submit", guards=[public])
    async def login(self, request: Req) -> Response[Any]:
        settings = _settings(request)
        now = utcnow()
        result = FormResult(await read_form(request))
        next_url = safe_next(result.values.get("next"), "")
        email = check_email(result)
        password = result.values.get("password", "")
        if not password:
            result.error("password", i18n.gettext("Enter your password."))
        context = {"values": {"email": result.values.get("email", "")}, "next": next_url}
        if not result.ok:
            return render(request, "auth/login.html", {**context, "errors": result.errors}, status_code=400)

        keys = throttle_keys(settings, email, client_address(request))
        lock_ends = await locked_until(keys, now)
        if lock_ends is not None:
            minutes = max(1, math.ceil((lock_ends - now).total_seconds() / 60))
            await audit.record(Action.LOGIN_THROTTLED, detail={"minutes": minutes}, now=now)
            message = i18n.ngettext(
                "Too many attempts to sign in. Wait %(num)s minute and try again.",
                "Too many attempts to sign in. Wait %(num)s minutes and try again.",
                minutes,
            )
            return render(request, "auth/login.html", {**context, "form_error": message}, status_code=429)

        user = await User.objects().where(User.email == email).first()
        usable = user is not None and user.is_active
        good = await verify_password(settings, user.password_hash if usable and user else "", password)
        if not good or user is None:
            await record_failure(keys, now)
            await audit.record(Action.LOGIN_FAILED, actor=user, detail={"reason": "credentials"}, now=now)
            message = i18n.gettext("The email address or password is not right. Check them and try again.")
            return render(request, "auth/login.html", {**context, "form_error": message}, status_code=400)

        old_token = request.cookies.get(session_cookie_name(settings), "")
        needs_second_factor = second_factor.required_for(user)
        async with write_transaction():
            if old_token:  # never carry a session across a sign-in: the id always changes
                await UserSession.delete().where(UserSession.token_hash == token_hash(old_token))
            token = await start_session(settings, user.id, now, pending_second_factor=needs_second_factor)
            if needs_second_factor:
                await audit.record(
                    Action.LOGIN_PASSWORD_ACCEPTED, actor=user, object_type="user", object_id=user.public_id, now=now
                )
            else:
                await clear_account_failures(settings, email)
                await audit.record(
                    Action.LOGIN,
                    actor=user,
                    object_type="user",
                    object_id=user.public_id,
                    detail={"second_factor": "none"},
                    now=now,
                )
        if needs_second_factor:
            # The failure counter is cleared only when the second factor is right too.
            target = request.app.route_reverse("auth:second_factor")
            response = Redirect(
                path=target + (f"?next={quote(next_url, safe='')}" if next_url else ""), status_code=303
            )
            response.set_cookie(session_cookie(settings, token))
            return response
        response = Redirect(path=next_url or "/", status_code=303)
        response.set_cookie(session_cookie(settings, token))
        if user.locale:
            i18n.set_locale(user.locale)
        return response

    @post("/logout", name="auth:logout", guards=[signed_in])
    async def logout(self, request: Req) -> Response[Any]:
        settings = _settings(request)
        user = request.scope["user"]
        async with write_transaction():
            await UserSession.delete().where(UserSession.id == request.scope["auth"]["id"])
            await audit.record(Action.LOGOUT, actor=user, object_type="user", object_id=user.public_id)
        flash(request, "success", i18n.gettext("You have signed out."))
        response = Redirect(path=request.app.route_reverse("auth:login"), status_code=303)
        response.set_cookie(expired_session_cookie(settings))
        # The browser forgets cached pages and storage too; cookies stay so the flash message can show.
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        return response


class AccountController(Controller):
    path = "/account"
    guards = [signed_in]

    @get("/", name="account:detail")
    async def detail(self, request: Req) -> Response[Any]:
        return await self._page(request)

    @staticmethod
    async def _page(request: Req, **context: Any) -> Response[Any]:
        from circles.calendar import account_context  # here: circles imports cosa

        user = request.scope["user"]
        sessions = await UserSession.count().where(UserSession.user == user.id)
        status = context.pop("status_code", 200)
        fresh = await User.select(User.totp_enabled_at).where(User.id == user.id).first()
        enrolled = bool(fresh and fresh["totp_enabled_at"])
        context = {
            "session_count": sessions,
            "second_factor_on": enrolled,
            "second_factor_required": second_factor.required_for(user) and user.role != "volunteer",
            "recovery_codes_left": await second_factor.recovery_codes_left(user.id) if enrolled else 0,
            "second_factor_errors": {},
            **await account_context(user),
            **context,
        }
        return render(request, "account/detail.html", context, status_code=status)

    @post("/password", name="account:password")
    async def password(self, request: Req) -> Response[Any]:
        settings = _settings(request)
        user = request.scope["user"]
        result = FormResult(await read_form(request))
        current = result.values.get("current_password", "")
        new = result.values.get("new_password", "")
        if not current:
            result.error("current_password", i18n.gettext("Enter your current password."))
        elif not await verify_password(settings, user.password_hash, current):
            result.error("current_password", i18n.gettext("Your current password is not right."))
        problem = password_problem(new, user.email)
        if problem:
            result.error("new_password", problem)
        elif new != result.values.get("confirm_password", ""):
            result.error("confirm_password", i18n.gettext("The two new passwords are not the same."))
        if not result.ok:
            return await self._page(request, errors=result.errors, status_code=400)
        now = utcnow()
        await change_password(settings, user, new, now)
        # Every other session has ended; this one continues under a fresh id.
        token = await start_session(settings, user.id, now)
        flash(
            request,
            "success",
            i18n.gettext("Your password has been changed. You have been signed out everywhere else."),
        )
        response = Redirect(path=request.app.route_reverse("account:detail"), status_code=303)
        response.set_cookie(session_cookie(settings, token))
        return response

    @post("/sign-out-everywhere", name="account:sign_out_everywhere")
    async def sign_out_everywhere(self, request: Req) -> Response[Any]:
        settings = _settings(request)
        user = request.scope["user"]
        async with write_transaction():
            await end_all_sessions(user.id)
            await audit.record(Action.SIGN_OUT_EVERYWHERE, actor=user, object_type="user", object_id=user.public_id)
        flash(request, "success", i18n.gettext("You have been signed out on every device."))
        response = Redirect(path=request.app.route_reverse("auth:login"), status_code=303)
        response.set_cookie(expired_session_cookie(settings))
        response.headers["Clear-Site-Data"] = '"cache", "storage"'
        return response


class InvitationController(Controller):
    path = "/invitation"
    guards = [public]

    @get("/{token:str}", name="invitation:open")
    async def open(self, request: Req, token: FromPath[str]) -> Response[Any]:
        invitation = await find_invitation(token, utcnow())
        if invitation is None:
            return render(request, "auth/invitation_invalid.html", status_code=404)
        return render(request, "auth/invitation.html", {"token": token, "invitation": invitation})

    @post("/", name="invitation:accept")
    async def accept(self, request: Req) -> Response[Any]:
        settings = _settings(request)
        now = utcnow()
        result = FormResult(await read_form(request))
        token = result.values.get("token", "")
        invitation = await find_invitation(token, now)
        if invitation is None:
            return render(request, "auth/invitation_invalid.html", status_code=404)
        password = result.values.get("password", "")
        problem = password_problem(password, invitation["user.email"])
        if problem:
            result.error("password", problem)
        elif password != result.values.get("confirm_password", ""):
            result.error("confirm_password", i18n.gettext("The two passwords are not the same."))
        if not result.ok:
            return render(
                request,
                "auth/invitation.html",
                {"token": token, "invitation": invitation, "errors": result.errors},
                status_code=400,
            )
        if not await accept_invitation(settings, invitation, password, now):
            return render(request, "auth/invitation_invalid.html", status_code=404)
        flash(request, "success", i18n.gettext("Your password is set. You can now sign in."))
        return Redirect(path=request.app.route_reverse("auth:login"), status_code=303)


@post("/language", name="language", guards=[public])
async def switch_language(request: Req) -> Response[Any]:
    """Save the chosen language: on the account when signed in, and in a cookie for this browser."""
    settings = _settings(request)
    values = await read_form(request)
    locale = i18n.normalise_locale(values.get("locale"))
    target = safe_next(values.get("next"))
    response = Redirect(path=target, status_code=303)
    if locale is None:
        return response
    user = request.scope.get("user")
    if user is not None and user.locale != locale:
        async with write_transaction():
            await User.update({User.locale: locale}).where(User.id == user.id)
            await audit.record(
                Action.USER_LANGUAGE_CHANGED,
                actor=user,
                object_type="user",
                object_id=user.public_id,
                detail={"locale": locale},
            )
    response.set_cookie(
        key=LANGUAGE_COOKIE,
        value=locale,
        path="/",
        max_age=365 * 24 * 3600,
        httponly=True,
        secure=settings.cookie_secure,
        samesite="lax",
    )
    return response
