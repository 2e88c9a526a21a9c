"""Circle pages: opening a circle, its record and timeline, lifecycle, covenant, members and outer circle."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from circles.circle_services import (
    CircleRuleBroken,
    circle_state_labels,
    end_membership,
    facts_of,
    invite_volunteer,
    move_circle,
    open_circle,
    respond_to_invitation,
    sign_covenant,
)
from circles.core_member_pages import today
from circles.forms import circle_fields
from circles.lifecycle import MIN_VOLUNTEERS, next_states
from circles.meeting_services import circle_meetings
from circles.services import circle_scope, core_member_or_404, notes_of
from circles.tables import (
    Circle,
    CircleMembership,
    CircleTransition,
    CoreMember,
    MembershipStatus,
    OuterCircleMember,
)
from cosa import audit, i18n
from cosa.audit import Action
from cosa.auth import found_or_deny, roles
from cosa.choices import weekday_choices
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.forms import FormResult, check_date, check_email, check_text, read_form
from cosa.tables import Role, User
from cosa.web import flash, render
from volunteers.tables import Volunteer

Req = Request[Any, Any, Any]
coordinators = roles(Role.coordinator)
circle_readers = roles(Role.coordinator, Role.probation, Role.volunteer)
volunteers_only = roles(Role.volunteer)


def membership_labels() -> dict[str, str]:
    return {
        MembershipStatus.invited: i18n.gettext("Invited"),
        MembershipStatus.accepted: i18n.gettext("In the circle"),
        MembershipStatus.declined: i18n.gettext("Declined"),
        MembershipStatus.withdrawn: i18n.gettext("Invitation withdrawn"),
        MembershipStatus.left: i18n.gettext("Left"),
    }


async def circle_or_404(request: Req, public_id: Any) -> dict[str, Any]:
    user = request.scope["user"]
    row = await Circle.select().where(Circle.public_id == public_id, circle_scope(user)).first()
    return await found_or_deny(request, row, "circle", public_id)


async def region_coordinators(region_id: int) -> dict[str, tuple[int, str]]:
    """Active coordinators of a region: public id -> (row id, name)."""
    rows = (
        await User.select(User.id, User.public_id, User.display_name)
        .where(User.role == Role.coordinator.value, User.is_active.eq(True), User.region == region_id)
        .order_by(User.display_name)
    )
    return {str(r["public_id"]): (r["id"], r["display_name"]) for r in rows}


def _form_context(
    circle: dict[str, Any], values: dict[str, str], choices: dict[str, tuple[int, str]], **extra: Any
) -> dict[str, Any]:
    coordinators = {key: name for key, (_row_id, name) in choices.items()}
    return {"circle": circle, "values": values, "weekdays": weekday_choices(), "coordinators": coordinators, **extra}


def circle_url(request: Req, public_id: Any, anchor: str = "") -> str:
    return request.app.route_reverse("circles:circle", public_id=public_id) + anchor


class CircleController(Controller):
    @get("/core-members/{public_id:uuid}/circles/new", name="circles:circle_new", guards=[coordinators])
    async def new_page(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        values = {"check_in_every_days": "7", "code_name": ""}
        return render(
            request,
            "circles/circle_form.html",
            {"core_member": core_member, "values": values, "weekdays": weekday_choices()},
        )

    @post("/core-members/{public_id:uuid}/circles/new", name="circles:circle_create", guards=[coordinators])
    async def create(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        result = FormResult(await read_form(request))
        fields = circle_fields(result)
        if result.ok:
            try:
                circle_id = await open_circle(
                    by=request.scope["user"], core_member=core_member, fields=fields, now=utcnow()
                )
            except CircleRuleBroken as broken:
                result.error("code_name", broken.message)
            else:
                flash(
                    request,
                    "success",
                    i18n.gettext("The circle is open. Next, find volunteers and record the covenant."),
                )
                return Redirect(path=circle_url(request, circle_id), status_code=303)
        return render(
            request,
            "circles/circle_form.html",
            {
                "core_member": core_member,
                "values": result.values,
                "errors": result.errors,
                "weekdays": weekday_choices(),
            },
            status_code=400,
        )

    @get("/circles/{public_id:uuid}", name="circles:circle", guards=[circle_readers])
    async def detail(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        if request.scope["user"].role == Role.volunteer.value:
            return render(request, "circles/circle_volunteer.html", await volunteer_view(request, circle))
        return render(request, "circles/circle.html", await self._context(request, circle))

    async def _context(self, request: Req, circle: dict[str, Any], **extra: Any) -> dict[str, Any]:
        core_member = (
            await CoreMember.select(CoreMember.public_id, CoreMember.full_name, CoreMember.known_as, CoreMember.cohort)
            .where(CoreMember.id == circle["core_member"])
            .first()
        )
        members = (
            await CircleMembership.select(
                CircleMembership.public_id,
                CircleMembership.status,
                CircleMembership.invited_at,
                CircleMembership.responded_at,
                CircleMembership.volunteer._.public_id,
                CircleMembership.volunteer._.display_name,
            )
            .where(CircleMembership.circle == circle["id"])
            .order_by(CircleMembership.invited_at)
        )
        timeline = (
            await CircleTransition.select(
                CircleTransition.from_state,
                CircleTransition.to_state,
                CircleTransition.reason,
                CircleTransition.at,
                CircleTransition.by._.display_name,
            )
            .where(CircleTransition.circle == circle["id"])
            .order_by(CircleTransition.at, ascending=False)
            .order_by(CircleTransition.id, ascending=False)
        )
        coordinator = await User.select(User.display_name).where(User.id == circle["coordinator"]).first()
        facts = await facts_of(circle)
        upcoming, recent = await circle_meetings(circle["id"], utcnow())
        return {
            "upcoming": upcoming,
            "recent": recent,
            "circle": circle,
            "core_member": core_member,
            "coordinator_name": coordinator["display_name"] if coordinator else "",
            "members": members,
            "seated": facts.accepted_volunteers,
            "min_volunteers": MIN_VOLUNTEERS,
            "timeline": timeline,
            "states": circle_state_labels(),
            "next_states": next_states(facts),
            "next_state_options": {state: circle_state_labels()[state] for state in next_states(facts)},
            "membership_labels": membership_labels(),
            "outer": await OuterCircleMember.select()
            .where(OuterCircleMember.circle == circle["id"])
            .order_by(OuterCircleMember.id),
            "weekdays": weekday_choices(),
            "can_edit": request.scope["user"].role == Role.coordinator.value,
            "today": today().isoformat(),
            **extra,
        }

    async def _page_with_error(self, request: Req, circle: dict[str, Any], **extra: Any) -> Response[Any]:
        return render(request, "circles/circle.html", await self._context(request, circle, **extra), status_code=400)

    @get("/circles/{public_id:uuid}/edit", name="circles:circle_edit", guards=[coordinators])
    async def edit_page(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        choices = await region_coordinators(circle["region"])
        values = {k: ("" if v is None else str(v)) for k, v in circle.items()}
        if circle["meeting_time"] is not None:
            values["meeting_time"] = circle["meeting_time"].strftime("%H:%M")
        values["coordinator"] = next(
            (key for key, (row_id, _n) in choices.items() if row_id == circle["coordinator"]), ""
        )
        return render(request, "circles/circle_form.html", _form_context(circle, values, choices))

    @post("/circles/{public_id:uuid}/edit", name="circles:circle_update", guards=[coordinators])
    async def update(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        choices = await region_coordinators(circle["region"])
        result = FormResult(await read_form(request))
        fields = circle_fields(result)
        chosen = choices.get(result.values.get("coordinator", ""))
        if chosen is None:
            result.error("coordinator", i18n.gettext("Choose the circle's coordinator."))
        else:
            fields["coordinator"] = chosen[0]
        if not result.ok:
            context = _form_context(circle, result.values, choices, errors=result.errors)
            return render(request, "circles/circle_form.html", context, status_code=400)
        async with write_transaction():
            await Circle.update({getattr(Circle, k): v for k, v in fields.items()}).where(Circle.id == circle["id"])
            await audit.record(
                Action.CIRCLE_UPDATED, actor=request.scope["user"], object_type="circle", object_id=public_id
            )
        flash(request, "success", i18n.gettext("The circle's details are saved."))
        return Redirect(path=circle_url(request, public_id), status_code=303)

    @post("/circles/{public_id:uuid}/transition", name="circles:circle_transition", guards=[coordinators])
    async def transition(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        values = await read_form(request)
        target = values.get("state", "")
        if target not in circle_state_labels():
            return await self._page_with_error(
                request, circle, errors={"state": i18n.gettext("Choose the next stage.")}, values=values
            )
        try:
            await move_circle(
                by=request.scope["user"], circle=circle, target=target, reason=values.get("reason", ""), now=utcnow()
            )
        except CircleRuleBroken as broken:
            return await self._page_with_error(request, circle, errors={"state": broken.message}, values=values)
        flash(
            request,
            "success",
            i18n.gettext("The circle is now: %(state)s.", state=circle_state_labels()[target].lower()),
        )
        return Redirect(path=circle_url(request, public_id, "#timeline"), status_code=303)

    @post("/circles/{public_id:uuid}/covenant", name="circles:covenant", guards=[coordinators])
    async def covenant(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        result = FormResult(await read_form(request))
        text = result.values.get("covenant_text", "").strip()
        if not text:
            result.error("covenant_text", i18n.gettext("Enter the text of the covenant everyone signed."))
        signed_on = check_date(
            result,
            "covenant_signed_on",
            required_message=i18n.gettext("Enter the date it was signed."),
            not_after=today(),
        )
        if not result.ok or signed_on is None:
            return await self._page_with_error(request, circle, errors=result.errors, values=result.values)
        version = await sign_covenant(
            by=request.scope["user"], circle=circle, text=text, signed_on=signed_on, now=utcnow()
        )
        flash(request, "success", i18n.gettext("Version %(version)s of the covenant is recorded.", version=version))
        return Redirect(path=circle_url(request, public_id, "#covenant"), status_code=303)

    @post("/circles/{public_id:uuid}/outer", name="circles:outer_add", guards=[coordinators])
    async def outer_add(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        result = FormResult(await read_form(request))
        name = check_text(result, "outer_name", required_message=i18n.gettext("Enter the person's name."))
        organisation = check_text(result, "organisation", required_message=i18n.gettext("Enter their organisation."))
        email = check_email(result, "outer_email") if result.values.get("outer_email", "").strip() else ""
        if not result.ok:
            return await self._page_with_error(request, circle, errors=result.errors, values=result.values)
        async with write_transaction():
            await OuterCircleMember.insert(
                OuterCircleMember(
                    circle=circle["id"],
                    name=name,
                    organisation=organisation,
                    email=email,
                    role=" ".join(result.values.get("outer_role", "").split())[:120],
                    phone=" ".join(result.values.get("outer_phone", "").split())[:40],
                )
            )
            await audit.record(
                Action.OUTER_MEMBER_ADDED, actor=request.scope["user"], object_type="circle", object_id=public_id
            )
        flash(request, "success", i18n.gettext("Added to the outer circle."))
        return Redirect(path=circle_url(request, public_id, "#outer"), status_code=303)

    @post("/circles/{public_id:uuid}/outer/{member_id:uuid}/remove", name="circles:outer_remove", guards=[coordinators])
    async def outer_remove(self, request: Req, public_id: FromPath[UUID], member_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        row = (
            await OuterCircleMember.select(OuterCircleMember.id)
            .where(OuterCircleMember.public_id == member_id, OuterCircleMember.circle == circle["id"])
            .first()
        )
        row = await found_or_deny(request, row, "outer_member", member_id)
        async with write_transaction():
            await OuterCircleMember.delete().where(OuterCircleMember.id == row["id"])
            await audit.record(
                Action.OUTER_MEMBER_REMOVED, actor=request.scope["user"], object_type="circle", object_id=public_id
            )
        flash(request, "success", i18n.gettext("Removed from the outer circle."))
        return Redirect(path=circle_url(request, public_id, "#outer"), status_code=303)

    @post("/circles/{public_id:uuid}/invite", name="circles:invite", guards=[coordinators])
    async def invite(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        values = await read_form(request)
        volunteer_id = values.get("volunteer", "")
        volunteer = (
            await Volunteer.select(Volunteer.id, Volunteer.public_id, Volunteer.display_name)
            .where(Volunteer.public_id == _uuid_or_none(volunteer_id), Volunteer.region == circle["region"])
            .first()
            if _uuid_or_none(volunteer_id)
            else None
        )
        volunteer = await found_or_deny(request, volunteer, "volunteer", volunteer_id)
        htmx = bool(request.headers.get("hx-request"))
        try:
            await invite_volunteer(by=request.scope["user"], circle=circle, volunteer=volunteer, now=utcnow())
        except CircleRuleBroken as broken:
            if htmx:
                return render(
                    request, "circles/_invite_result.html", {"message": broken.message, "ok": False}, status_code=400
                )
            flash(request, "error", broken.message)
            return Redirect(path=request.app.route_reverse("circles:matching", public_id=public_id), status_code=303)
        if htmx:
            message = i18n.gettext(
                "%(name)s is invited. They accept or decline from their own account.", name=volunteer["display_name"]
            )
            return render(request, "circles/_invite_result.html", {"message": message, "ok": True})
        # The flash message travels in a cookie: no names in it.
        flash(
            request, "success", i18n.gettext("The volunteer is invited. They accept or decline from their own account.")
        )
        return Redirect(path=request.app.route_reverse("circles:matching", public_id=public_id), status_code=303)

    @post(
        "/circles/{public_id:uuid}/members/{membership_id:uuid}/end", name="circles:member_end", guards=[coordinators]
    )
    async def member_end(self, request: Req, public_id: FromPath[UUID], membership_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        membership = (
            await CircleMembership.select()
            .where(CircleMembership.public_id == membership_id, CircleMembership.circle == circle["id"])
            .first()
        )
        membership = await found_or_deny(request, membership, "circle_membership", membership_id)
        try:
            await end_membership(by=request.scope["user"], membership=membership, now=utcnow())
        except CircleRuleBroken as broken:
            return await self._page_with_error(request, circle, form_error=broken.message)
        flash(request, "success", i18n.gettext("The circle's membership is updated."))
        return Redirect(path=circle_url(request, public_id, "#members"), status_code=303)

    @post("/invitations/{membership_id:uuid}/{answer:str}", name="circles:invitation_answer", guards=[volunteers_only])
    async def answer(self, request: Req, membership_id: FromPath[UUID], answer: FromPath[str]) -> Response[Any]:
        user = request.scope["user"]
        membership = (
            await CircleMembership.select()
            .where(
                CircleMembership.public_id == membership_id,
                CircleMembership.volunteer.is_in(Volunteer.select(Volunteer.id).where(Volunteer.user == user.id)),
            )
            .first()
        )
        membership = await found_or_deny(request, membership, "circle_membership", membership_id)
        if answer not in ("accept", "decline"):
            await found_or_deny(request, None, "circle_membership", membership_id)
        try:
            await respond_to_invitation(by=user, membership=membership, accept=answer == "accept", now=utcnow())
        except CircleRuleBroken as broken:
            flash(request, "error", broken.message)
            return Redirect(path=request.app.route_reverse("home"), status_code=303)
        circle = await Circle.select(Circle.public_id).where(Circle.id == membership["circle"]).first()
        if answer == "accept" and circle is not None:
            flash(request, "success", i18n.gettext("Thank you. You are now part of this circle."))
            return Redirect(path=circle_url(request, circle["public_id"]), status_code=303)
        flash(request, "success", i18n.gettext("Thank you for letting us know. The invitation is declined."))
        return Redirect(path=request.app.route_reverse("home"), status_code=303)


async def volunteer_view(request: Req, circle: dict[str, Any]) -> dict[str, Any]:
    """What a volunteer of the circle may see: no offence details, risk connections or NRM record."""
    core_member = (
        await CoreMember.select(CoreMember.id, CoreMember.full_name, CoreMember.known_as)
        .where(CoreMember.id == circle["core_member"])
        .first()
    )
    assert core_member is not None
    members = (
        await CircleMembership.select(CircleMembership.volunteer._.display_name)
        .where(CircleMembership.circle == circle["id"], CircleMembership.status == MembershipStatus.accepted.value)
        .order_by(CircleMembership.responded_at)
    )
    membership = (
        await CircleMembership.select(CircleMembership.public_id, CircleMembership.status)
        .where(
            CircleMembership.circle == circle["id"],
            CircleMembership.volunteer.is_in(
                Volunteer.select(Volunteer.id).where(Volunteer.user == request.scope["user"].id)
            ),
        )
        .first()
    )
    coordinator = await User.select(User.display_name).where(User.id == circle["coordinator"]).first()
    return {
        "circle": circle,
        "name": core_member["known_as"] or core_member["full_name"].split(" ")[0],
        "members": [m["volunteer.display_name"] for m in members],
        "membership": membership,
        "coordinator_name": coordinator["display_name"] if coordinator else "",
        "shared_notes": await notes_of(core_member["id"], shared_only=True),
        "states": circle_state_labels(),
        "weekdays": weekday_choices(),
    }


def _uuid_or_none(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None
