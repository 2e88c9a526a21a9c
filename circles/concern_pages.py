"""Raising a concern (volunteers and coordinators), reading it, adding to it, triage and closing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from circles import concerns
from circles.check_ins import check_when, local_now
from circles.circle_pages import circle_or_404
from circles.indicators import indicators_for, labels_for
from circles.services import circle_scope
from circles.tables import Circle, Concern, ConcernState, Escalation, Severity
from cosa import i18n, outbox
from cosa.auth import found_or_deny, roles
from cosa.clock import utcnow
from cosa.forms import FormResult, check_choice, read_form, read_multi
from cosa.tables import Role
from cosa.web import flash, render

Req = Request[Any, Any, Any]
raisers = roles(Role.coordinator, Role.volunteer)
coordinators = roles(Role.coordinator)


async def concern_or_404(request: Req, public_id: Any) -> dict[str, Any]:
    """Coordinators reach their region's concerns; a volunteer only the concerns they raised."""
    user = request.scope["user"]
    query = Concern.select(
        *Concern.all_columns(),
        Concern.circle._.public_id,
        Concern.circle._.code_name,
        Concern.circle._.core_member._.cohort,
    ).where(Concern.public_id == public_id, Concern.circle.is_in(Circle.select(Circle.id).where(circle_scope(user))))
    if user.role == Role.volunteer.value:
        query = query.where(Concern.raised_by == user.id)
    return await found_or_deny(request, await query.output(load_json=True).first(), "concern", public_id)


class ConcernController(Controller):
    @get("/circles/{public_id:uuid}/concerns/new", name="circles:concern_new", guards=[raisers])
    async def new(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await self._circle(request, public_id)
        return await self._form(request, circle, {"seen_at": local_now()}, [])

    async def _circle(self, request: Req, public_id: Any) -> dict[str, Any]:
        circle = await circle_or_404(request, public_id)
        if circle["state"] in ("closed", "terminated", "referred"):
            await found_or_deny(request, None, "circle", public_id)
        return circle

    async def _form(
        self,
        request: Req,
        circle: dict[str, Any],
        values: dict[str, str],
        ticked: list[str],
        errors: dict[str, str] | None = None,
        status_code: int = 200,
    ) -> Response[Any]:
        cohort = (await Circle.select(Circle.core_member._.cohort).where(Circle.id == circle["id"]).first() or {}).get(
            "core_member.cohort", ""
        )
        return render(
            request,
            "circles/concern_form.html",
            {
                "circle": circle,
                "values": values,
                "ticked": ticked,
                "indicators": await indicators_for(cohort),
                "severities": concerns.severity_labels(),
                "errors": errors or {},
            },
            status_code=status_code,
        )

    @post("/circles/{public_id:uuid}/concerns/new", name="circles:concern_create", guards=[raisers])
    async def create(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await self._circle(request, public_id)
        result = FormResult(await read_form(request))
        ticked = await read_multi(request, "indicators")
        now = utcnow()
        severity = check_choice(
            result, "severity", concerns.severity_labels(), i18n.gettext("Choose how serious it is.")
        )
        description = result.values.get("description", "").strip()
        if not description:
            result.error("description", i18n.gettext("Describe what you saw or heard."))
        seen_at = check_when(result, now, "seen_at", i18n.gettext("Enter when it happened."))
        cohort = (await Circle.select(Circle.core_member._.cohort).where(Circle.id == circle["id"]).first() or {}).get(
            "core_member.cohort", ""
        )
        allowed = {i["code"] for i in await indicators_for(cohort)}
        if any(code not in allowed for code in ticked):
            result.error("indicators", i18n.gettext("Choose from the indicators shown."))
        if not result.ok or seen_at is None:
            return await self._form(request, circle, result.values, ticked, result.errors, status_code=400)
        concern_id = await concerns.raise_concern(
            request.app.state.settings,
            request.app.state.jinja,
            by=request.scope["user"],
            circle=circle,
            severity=severity,
            description=description,
            indicators=ticked,
            seen_at=seen_at,
            now=now,
        )
        outbox.wake()
        message = (
            i18n.gettext("Your urgent concern has been sent to the probation officer and your coordinator.")
            if severity == Severity.urgent.value
            else i18n.gettext("Your concern is recorded and your coordinator has been told.")
            if severity == Severity.concern.value
            else i18n.gettext("Your note is recorded for your coordinator.")
        )
        flash(request, "success", message)
        return Redirect(path=request.app.route_reverse("circles:concern", public_id=concern_id), status_code=303)

    @get("/concerns/{public_id:uuid}", name="circles:concern", guards=[raisers])
    async def detail(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        concern = await concern_or_404(request, public_id)
        return render(request, "circles/concern.html", await self._context(request, concern))

    async def _context(self, request: Req, concern: dict[str, Any], **extra: Any) -> dict[str, Any]:
        volunteer = request.scope["user"].role == Role.volunteer.value
        escalation = (
            await Escalation.select(
                Escalation.created_at,
                Escalation.acknowledged_at,
                Escalation.action,
                Escalation.level,
                Escalation.officer._.display_name,
            )
            .where(Escalation.concern == concern["id"])
            .first()
        )
        return {
            "concern": concern,
            "events": await concerns.timeline(concern["id"], for_volunteer=volunteer),
            "labels": await labels_for(concern["indicators"] or []),
            "severities": concerns.severity_labels(),
            "states": concerns.state_labels(),
            "escalation": escalation,
            "actions": concerns.action_labels(),
            "is_coordinator": not volunteer,
            **extra,
        }

    async def _again(self, request: Req, concern: dict[str, Any], **extra: Any) -> Response[Any]:
        return render(request, "circles/concern.html", await self._context(request, concern, **extra), status_code=400)

    def _back(self, request: Req, concern: dict[str, Any]) -> Response[Any]:
        return Redirect(
            path=request.app.route_reverse("circles:concern", public_id=concern["public_id"]), status_code=303
        )

    @post("/concerns/{public_id:uuid}/add", name="circles:concern_add", guards=[raisers])
    async def add(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        concern = await concern_or_404(request, public_id)
        values = await read_form(request)
        text = values.get("more", "").strip()
        if not text:
            return await self._again(request, concern, errors={"more": i18n.gettext("Write what you want to add.")})
        if concern["state"] == ConcernState.closed.value:
            return await self._again(
                request,
                concern,
                form_error=i18n.gettext("This concern is closed. Raise a new one if something else has happened."),
                values=values,
            )
        await concerns.add_to(by=request.scope["user"], concern=concern, text=text, now=utcnow())
        flash(request, "success", i18n.gettext("Added. Thank you."))
        return self._back(request, concern)

    @post("/concerns/{public_id:uuid}/triage", name="circles:concern_triage", guards=[coordinators])
    async def triage(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        concern = await concern_or_404(request, public_id)
        values = await read_form(request)
        decision = values.get("decision", "")
        if decision not in ("escalate", "keep"):
            return await self._again(
                request, concern, errors={"decision": i18n.gettext("Choose whether to escalate it.")}, values=values
            )
        try:
            await concerns.triage(
                request.app.state.settings,
                request.app.state.jinja,
                by=request.scope["user"],
                concern=concern,
                escalate_it=decision == "escalate",
                note=values.get("note", ""),
                now=utcnow(),
            )
        except concerns.ConcernRuleBroken as broken:
            return await self._again(request, concern, errors={"note": broken.message}, values=values)
        flash(
            request,
            "success",
            i18n.gettext("Sent to the probation officer.")
            if decision == "escalate"
            else i18n.gettext("Your decision is recorded."),
        )
        return self._back(request, concern)

    @post("/concerns/{public_id:uuid}/close", name="circles:concern_close", guards=[coordinators])
    async def close(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        concern = await concern_or_404(request, public_id)
        values = await read_form(request)
        try:
            await concerns.close(
                by=request.scope["user"], concern=concern, note=values.get("close_note", ""), now=utcnow()
            )
        except concerns.ConcernRuleBroken as broken:
            return await self._again(request, concern, form_error=broken.message)
        flash(request, "success", i18n.gettext("The concern is closed."))
        return self._back(request, concern)
