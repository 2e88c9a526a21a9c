"""The admin's pages for accounts: invite, resend a link, change a role, deactivate and reactivate."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from cosa import i18n
from cosa.auth import admin_only, found_or_deny
from cosa.clock import utcnow
from cosa.forms import FormResult, check_choice, check_email, check_text, read_form
from cosa.tables import User
from cosa.users import EmailTaken, change_role, invite_user, resend_invitation, role_labels, set_active
from cosa.web import flash, render

Req = Request[Any, Any, Any]
STATUS_FILTERS = ("active", "invited", "deactivated")


def user_status(user: dict[str, Any]) -> str:
    if not user["is_active"]:
        return "deactivated"
    return "active" if user["password_hash"] else "invited"


def status_labels() -> dict[str, str]:
    return {
        "active": i18n.gettext("Active"),
        "invited": i18n.gettext("Invited"),
        "deactivated": i18n.gettext("Deactivated"),
    }


class UserAdminController(Controller):
    path = "/admin/users"
    guards = [admin_only]

    @get("/", name="admin:users")
    async def list(self, request: Req) -> Response[Any]:
        role = request.query_params.get("role", "")
        status = request.query_params.get("status", "")
        query = User.select(
            User.public_id, User.email, User.display_name, User.role, User.is_active, User.password_hash
        ).order_by(User.display_name)
        if role in role_labels():
            query = query.where(User.role == role)
        if status == "deactivated":
            query = query.where(User.is_active.eq(False))
        elif status == "active":
            query = query.where(User.is_active.eq(True), User.password_hash != "")
        elif status == "invited":
            query = query.where(User.is_active.eq(True), User.password_hash == "")
        users = [{**u, "status": user_status(u)} for u in await query]
        return render(
            request,
            "admin/users.html",
            {"users": users, "role": role, "status": status, "roles": role_labels(), "statuses": status_labels()},
            block="user_list" if request.headers.get("hx-request") and not request.headers.get("hx-boosted") else None,
        )

    @get("/invite", name="admin:invite")
    async def invite_page(self, request: Req) -> Response[Any]:
        return render(request, "admin/invite.html", {"roles": role_labels(), "values": {"locale": i18n.get_locale()}})

    @post("/invite", name="admin:invite_submit")
    async def invite(self, request: Req) -> Response[Any]:
        result = FormResult(await read_form(request))
        email = check_email(result)
        name = check_text(result, "display_name", required_message=i18n.gettext("Enter the person's name."))
        role = check_choice(result, "role", role_labels(), i18n.gettext("Choose a role."))
        locale = check_choice(result, "locale", i18n.LANGUAGE_NAMES, i18n.gettext("Choose a language."))
        if result.ok:
            try:
                user = await invite_user(
                    request.app.state.settings,
                    request.app.state.jinja,
                    by=request.scope["user"],
                    email=email,
                    display_name=name,
                    role=role,
                    locale=locale,
                    now=utcnow(),
                )
            except EmailTaken:
                result.error("email", i18n.gettext("There is already an account with this email address."))
            else:
                flash(
                    request,
                    "success",
                    i18n.gettext(
                        "Invitation sent. The link in it works for %(hours)s hours.",
                        hours=request.app.state.settings.invitation_valid_hours,
                    ),
                )
                return Redirect(
                    path=request.app.route_reverse("admin:user", public_id=user["public_id"]), status_code=303
                )
        return render(
            request,
            "admin/invite.html",
            {"roles": role_labels(), "values": result.values, "errors": result.errors},
            status_code=400,
        )

    async def _user(self, request: Req, public_id: FromPath[UUID]) -> dict[str, Any]:
        user = await User.select().where(User.public_id == public_id).first()
        return await found_or_deny(request, user, "user", public_id)

    @get("/{public_id:uuid}", name="admin:user")
    async def detail(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        user = await self._user(request, public_id)
        return render(request, "admin/user.html", self._context(request, user))

    def _context(self, request: Req, user: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "person": user,
            "status": user_status(user),
            "roles": role_labels(),
            "statuses": status_labels(),
            "is_self": user["id"] == request.scope["user"].id,
            **extra,
        }

    @post("/{public_id:uuid}/resend", name="admin:resend")
    async def resend(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        user = await self._user(request, public_id)
        if not user["is_active"]:
            return render(
                request,
                "admin/user.html",
                self._context(request, user, form_error=i18n.gettext("Reactivate the account before sending a link.")),
                status_code=400,
            )
        await resend_invitation(
            request.app.state.settings, request.app.state.jinja, by=request.scope["user"], user=user, now=utcnow()
        )
        flash(request, "success", i18n.gettext("A new link has been sent. Any earlier link no longer works."))
        return Redirect(path=request.app.route_reverse("admin:user", public_id=public_id), status_code=303)

    @post("/{public_id:uuid}/deactivate", name="admin:deactivate")
    async def deactivate(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        user = await self._user(request, public_id)
        if user["id"] == request.scope["user"].id:
            return render(
                request,
                "admin/user.html",
                self._context(
                    request,
                    user,
                    form_error=i18n.gettext("You cannot deactivate your own account. Ask another administrator."),
                ),
                status_code=400,
            )
        await set_active(by=request.scope["user"], user=user, active=False, now=utcnow())
        flash(request, "success", i18n.gettext("The account is deactivated and signed out everywhere."))
        return Redirect(path=request.app.route_reverse("admin:user", public_id=public_id), status_code=303)

    @post("/{public_id:uuid}/reactivate", name="admin:reactivate")
    async def reactivate(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        user = await self._user(request, public_id)
        await set_active(by=request.scope["user"], user=user, active=True, now=utcnow())
        flash(request, "success", i18n.gettext("The account is active again."))
        return Redirect(path=request.app.route_reverse("admin:user", public_id=public_id), status_code=303)

    @post("/{public_id:uuid}/role", name="admin:role")
    async def role(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        user = await self._user(request, public_id)
        result = FormResult(await read_form(request))
        role = check_choice(result, "role", role_labels(), i18n.gettext("Choose a role."))
        if user["id"] == request.scope["user"].id:
            result.error("role", i18n.gettext("You cannot change your own role. Ask another administrator."))
        if not result.ok:
            return render(
                request, "admin/user.html", self._context(request, user, errors=result.errors), status_code=400
            )
        if role != user["role"]:
            await change_role(by=request.scope["user"], user=user, role=role, now=utcnow())
            flash(request, "success", i18n.gettext("The role is changed. The person must sign in again."))
        return Redirect(path=request.app.route_reverse("admin:user", public_id=public_id), status_code=303)
