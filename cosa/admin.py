"""The admin's pages for accounts: invite, resend a link, change a role, deactivate and reactivate."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect
from piccolo.query.functions.aggregate import Count

from cosa import audit, i18n, second_factor
from cosa.auth import admin_only, end_all_sessions, found_or_deny
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.forms import FormResult, check_choice, check_email, check_text, read_form
from cosa.tables import Region, User
from cosa.users import (
    EmailTaken,
    change_access,
    invitable_roles,
    invite_user,
    resend_invitation,
    role_labels,
    set_active,
)
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
        return render(
            request,
            "admin/invite.html",
            {"roles": invitable_roles(), "regions": await region_choices(), "values": {"locale": i18n.get_locale()}},
        )

    @post("/invite", name="admin:invite_submit")
    async def invite(self, request: Req) -> Response[Any]:
        result = FormResult(await read_form(request))
        email = check_email(result)
        name = check_text(result, "display_name", required_message=i18n.gettext("Enter the person's name."))
        role = check_choice(result, "role", invitable_roles(), i18n.gettext("Choose a role."))
        locale = check_choice(result, "locale", i18n.LANGUAGE_NAMES, i18n.gettext("Choose a language."))
        region_id = await check_region(result, role)
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
                    region_id=region_id,
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
            {
                "roles": invitable_roles(),
                "regions": await region_choices(),
                "values": result.values,
                "errors": result.errors,
            },
            status_code=400,
        )

    async def _user(self, request: Req, public_id: FromPath[UUID]) -> dict[str, Any]:
        user = await User.select().where(User.public_id == public_id).first()
        return await found_or_deny(request, user, "user", public_id)

    @get("/{public_id:uuid}", name="admin:user")
    async def detail(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        user = await self._user(request, public_id)
        return render(request, "admin/user.html", await self._context(request, user))

    async def _context(self, request: Req, user: dict[str, Any], **extra: Any) -> dict[str, Any]:
        regions = await region_choices()
        region = (
            await Region.select(Region.public_id).where(Region.id == user["region"]).first() if user["region"] else None
        )
        return {
            "regions": regions,
            "region_name": regions.get(str(region["public_id"]), "") if region else "",
            "region_value": str(region["public_id"]) if region else "",
            "person": user,
            "status": user_status(user),
            "roles": role_labels(),
            "statuses": status_labels(),
            "is_self": user["id"] == request.scope["user"].id,
            "second_factor_on": bool(user["totp_enabled_at"]),
            **extra,
        }

    @post("/{public_id:uuid}/resend", name="admin:resend")
    async def resend(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        user = await self._user(request, public_id)
        if not user["is_active"]:
            return render(
                request,
                "admin/user.html",
                await self._context(
                    request, user, form_error=i18n.gettext("Reactivate the account before sending a link.")
                ),
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
                await self._context(
                    request,
                    user,
                    form_error=i18n.gettext("You cannot deactivate your own account. Ask another administrator."),
                ),
                status_code=400,
            )
        await set_active(by=request.scope["user"], user=user, active=False, now=utcnow())
        flash(request, "success", i18n.gettext("The account is deactivated and signed out everywhere."))
        return Redirect(path=request.app.route_reverse("admin:user", public_id=public_id), status_code=303)

    @post("/{public_id:uuid}/second-factor/reset", name="admin:second_factor_reset")
    async def reset_second_factor(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        """For a lost phone: remove the user's second factor and recovery codes and end their sessions.
        Staff set up a new one at their next sign-in; volunteers sign in with their password until they do."""
        user = await self._user(request, public_id)
        if user["id"] == request.scope["user"].id:
            message = i18n.gettext("You cannot reset your own two-step verification. Ask another administrator.")
            context = await self._context(request, user, form_error=message)
            return render(request, "admin/user.html", context, status_code=400)
        async with write_transaction():
            await second_factor.clear(user["id"])
            await end_all_sessions(user["id"])
            await audit.record(
                audit.Action.SECOND_FACTOR_RESET,
                actor=request.scope["user"],
                object_type="user",
                object_id=user["public_id"],
            )
        flash(
            request,
            "success",
            i18n.gettext(
                "Two-step verification is reset and they are signed out. They set it up again when they next sign in."
            ),
        )
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
        region_id = await check_region(result, role)
        if user["id"] == request.scope["user"].id:
            result.error("role", i18n.gettext("You cannot change your own role. Ask another administrator."))
        if not result.ok:
            return render(
                request, "admin/user.html", await self._context(request, user, errors=result.errors), status_code=400
            )
        if role != user["role"] or region_id != user["region"]:
            await change_access(by=request.scope["user"], user=user, role=role, region_id=region_id, now=utcnow())
            flash(request, "success", i18n.gettext("The role or region is changed. The person must sign in again."))
        return Redirect(path=request.app.route_reverse("admin:user", public_id=public_id), status_code=303)


async def region_choices() -> dict[str, str]:
    """Region public ids to names, for select boxes."""
    rows = await Region.select(Region.public_id, Region.name).order_by(Region.name)
    return {str(r["public_id"]): r["name"] for r in rows}


async def check_region(result: FormResult, role: str, name: str = "region") -> int | None:
    """The chosen region's row id; coordinators and probation officers must have one."""
    value = result.values.get(name, "")
    row = await Region.select(Region.id).where(Region.public_id == value).first() if _is_uuid(value) else None
    if row is None and (value or role in ("coordinator", "probation")):
        result.error(name, i18n.gettext("Choose the region they work in."))
    return row["id"] if row else None


def _is_uuid(value: str) -> bool:
    try:
        UUID(value)
    except ValueError:
        return False
    return True


class RegionAdminController(Controller):
    path = "/admin/regions"
    guards = [admin_only]

    @get("/", name="admin:regions")
    async def list(self, request: Req) -> Response[Any]:
        return await self._page(request)

    async def _page(self, request: Req, status_code: int = 200, **context: Any) -> Response[Any]:
        regions = await Region.select(Region.public_id, Region.name).order_by(Region.name)
        counts = (
            await User.select(User.region, Count(User.id, alias="n"))
            .where(User.is_active.eq(True))
            .group_by(User.region)
        )
        per_region = {row["region"]: row["n"] for row in counts}
        ids = {r["public_id"]: r for r in await Region.select(Region.id, Region.public_id)}
        for region in regions:
            region["people"] = per_region.get(ids[region["public_id"]]["id"], 0)
        return render(request, "admin/regions.html", {"regions": regions, **context}, status_code=status_code)

    @post("/", name="admin:region_add")
    async def add(self, request: Req) -> Response[Any]:
        result = FormResult(await read_form(request))
        name = check_text(result, "name", required_message=i18n.gettext("Enter the region's name."), max_length=80)
        if result.ok and await Region.exists().where(Region.name == name):
            result.error("name", i18n.gettext("There is already a region with this name."))
        if not result.ok:
            return await self._page(request, 400, errors=result.errors, values=result.values)
        async with write_transaction():
            rows = await Region.insert(Region(name=name)).returning(Region.public_id)
            await audit.record(
                audit.Action.REGION_CREATED,
                actor=request.scope["user"],
                object_type="region",
                object_id=rows[0]["public_id"],
            )
        flash(request, "success", i18n.gettext("Region added."))
        return Redirect(path=request.app.route_reverse("admin:regions"), status_code=303)

    @post("/{public_id:uuid}", name="admin:region_rename")
    async def rename(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        region = await found_or_deny(
            request, await Region.select().where(Region.public_id == public_id).first(), "region", public_id
        )
        result = FormResult(await read_form(request))
        field = f"name-{public_id}"
        name = check_text(result, field, required_message=i18n.gettext("Enter the region's name."), max_length=80)
        if result.ok and await Region.exists().where(Region.name == name, Region.id != region["id"]):
            result.error(field, i18n.gettext("There is already a region with this name."))
        if not result.ok:
            return await self._page(request, 400, errors=result.errors, values=result.values)
        async with write_transaction():
            await Region.update({Region.name: name}).where(Region.id == region["id"])
            await audit.record(
                audit.Action.REGION_RENAMED, actor=request.scope["user"], object_type="region", object_id=public_id
            )
        flash(request, "success", i18n.gettext("Region renamed."))
        return Redirect(path=request.app.route_reverse("admin:regions"), status_code=303)
