"""The probation officer's side of an escalation: their inbox, the page the emailed link opens, and the
three steps (acknowledge, record the action, close), each a POST because mail scanners prefetch links."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from circles import concerns
from circles.indicators import labels_for
from circles.tables import Escalation
from cosa import audit, i18n
from cosa.auth import found_or_deny, roles
from cosa.clock import utcnow
from cosa.forms import FormResult, check_choice, read_form
from cosa.tables import Role
from cosa.web import flash, render

Req = Request[Any, Any, Any]
officers = roles(Role.probation)
VIEWED = "escalation.viewed"
CLOSED_SHOWN = 50  # the closed list shows the latest few: the page stays small however long the caseload's history

_LIST_COLUMNS = (
    Escalation.public_id,
    Escalation.severity,
    Escalation.level,
    Escalation.created_at,
    Escalation.next_notice_at,
    Escalation.acknowledged_at,
    Escalation.actioned_at,
    Escalation.action,
    Escalation.closed_at,
    Escalation.concern._.circle._.code_name,
)


def stage(escalation: dict[str, Any]) -> str:
    """Where an escalation stands for the officer: waiting, acknowledged, actioned or closed."""
    if escalation["closed_at"] is not None:
        return "closed"
    if escalation["acknowledged_at"] is None:
        return "waiting"
    if escalation["actioned_at"] is None:
        return "acknowledged"
    return "actioned"


def stage_labels() -> dict[str, str]:
    return {
        "waiting": i18n.gettext("Waiting for you to acknowledge"),
        "acknowledged": i18n.gettext("Acknowledged, action not recorded yet"),
        "actioned": i18n.gettext("Action recorded, not closed"),
        "closed": i18n.gettext("Closed"),
    }


def is_overdue(escalation: dict[str, Any], now: datetime) -> bool:
    """Not acknowledged in time: its deadline has passed, or it has already gone up the chain."""
    if escalation["acknowledged_at"] is not None or escalation["closed_at"] is not None:
        return False
    deadline = escalation["next_notice_at"]
    return escalation["level"] > 0 or (deadline is not None and deadline <= now)


def age(then: datetime, now: datetime) -> str:
    """How long ago, in words: "12 minutes ago", "3 hours ago", "2 days ago"."""
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 1:
        return i18n.gettext("Less than a minute ago")
    if minutes < 60:
        return i18n.ngettext("%(num)d minute ago", "%(num)d minutes ago", minutes)
    hours = minutes // 60
    if hours < 48:
        return i18n.ngettext("%(num)d hour ago", "%(num)d hours ago", hours)
    days = hours // 24
    return i18n.ngettext("%(num)d day ago", "%(num)d days ago", days)


async def escalation_or_404(request: Req, public_id: Any) -> dict[str, Any]:
    """An escalation sent to this officer, with its concern, circle and core member; else 404 and audit."""
    row = (
        await Escalation.select(
            *Escalation.all_columns(),
            Escalation.acknowledged_by._.display_name,
            Escalation.concern._.public_id,
            Escalation.concern._.state,
            Escalation.concern._.severity,
            Escalation.concern._.description,
            Escalation.concern._.indicators,
            Escalation.concern._.seen_at,
            Escalation.concern._.created_at,
            Escalation.concern._.circle._.code_name,
            Escalation.concern._.circle._.core_member._.full_name,
            Escalation.concern._.circle._.core_member._.known_as,
        )
        .where(Escalation.public_id == public_id, Escalation.officer == request.scope["user"].id)
        .output(load_json=True)
        .first()
    )
    return await found_or_deny(request, row, "escalation", public_id)


def concern_of(escalation: dict[str, Any]) -> dict[str, Any]:
    """The concern as the services take it."""
    return {
        "id": escalation["concern"],
        "public_id": escalation["concern.public_id"],
        "state": escalation["concern.state"],
    }


class EscalationController(Controller):
    @get("/escalations", name="circles:escalations", guards=[officers])
    async def inbox(self, request: Req) -> Response[Any]:
        user = request.scope["user"]
        now = utcnow()
        showing_closed = request.query_params.get("state") == "closed"
        query = Escalation.select(*_LIST_COLUMNS).where(Escalation.officer == user.id)
        if showing_closed:
            query = query.where(Escalation.closed_at.is_not_null()).order_by(Escalation.closed_at, ascending=False)
            query = query.limit(CLOSED_SHOWN)
        else:
            query = query.where(Escalation.closed_at.is_null()).order_by(Escalation.created_at).order_by(Escalation.id)
        groups: dict[str, list[dict[str, Any]]] = {
            name: [] for name in (("closed",) if showing_closed else ("waiting", "acknowledged", "actioned"))
        }
        for row in await query:
            groups[stage(row)].append({**row, "age": age(row["created_at"], now), "overdue": is_overdue(row, now)})
        return render(
            request,
            "circles/escalations.html",
            {
                "groups": groups,
                "showing_closed": showing_closed,
                "closed_shown": CLOSED_SHOWN,
                "stages": stage_labels(),
                "severities": concerns.severity_labels(),
                "actions": concerns.action_labels(),
            },
        )

    @get("/escalations/{public_id:uuid}", name="circles:escalation", guards=[officers])
    async def detail(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        # Only looks: the emailed link lands here and mail scanners open it before the officer does.
        escalation = await escalation_or_404(request, public_id)
        await audit.record(VIEWED, actor=request.scope["user"], object_type="escalation", object_id=public_id)
        return render(request, "circles/escalation.html", await self._context(escalation))

    async def _context(self, escalation: dict[str, Any], **extra: Any) -> dict[str, Any]:
        now = utcnow()
        return {
            "escalation": escalation,
            "stage": stage(escalation),
            "age": age(escalation["created_at"], now),
            "overdue": is_overdue(escalation, now),
            "events": await concerns.timeline(escalation["concern"], for_volunteer=False),
            "labels": await labels_for(escalation["concern.indicators"] or []),
            "severities": concerns.severity_labels(),
            "states": concerns.state_labels(),
            "actions": concerns.action_labels(),
            **extra,
        }

    async def _again(self, request: Req, escalation: dict[str, Any], **extra: Any) -> Response[Any]:
        return render(request, "circles/escalation.html", await self._context(escalation, **extra), status_code=400)

    def _back(self, request: Req, escalation: dict[str, Any]) -> Response[Any]:
        return Redirect(
            path=request.app.route_reverse("circles:escalation", public_id=escalation["public_id"]), status_code=303
        )

    @post("/escalations/{public_id:uuid}/acknowledge", name="circles:escalation_acknowledge", guards=[officers])
    async def acknowledge(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        escalation = await escalation_or_404(request, public_id)
        try:
            await concerns.acknowledge(by=request.scope["user"], escalation=escalation, now=utcnow())
        except concerns.ConcernRuleBroken as broken:
            return await self._again(request, escalation, form_error=broken.message)
        flash(request, "success", i18n.gettext("Acknowledged. Reminders about this alert have stopped."))
        return self._back(request, escalation)

    @post("/escalations/{public_id:uuid}/action", name="circles:escalation_action", guards=[officers])
    async def record_action(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        escalation = await escalation_or_404(request, public_id)
        result = FormResult(await read_form(request))
        # The form is only on the page once acknowledged and until closed; otherwise the service says why
        # (it checks the stage before it looks at the choice, and refuses without writing anything).
        if stage(escalation) in ("acknowledged", "actioned"):
            action = check_choice(result, "action", concerns.action_labels(), i18n.gettext("Choose what was done."))
            notes = result.values.get("notes", "").strip()
            if action == "other" and not notes:
                result.error("notes", i18n.gettext("Say what was done."))
            if not result.ok:
                return await self._again(request, escalation, errors=result.errors, values=result.values)
        try:
            await concerns.record_action(
                by=request.scope["user"],
                escalation=escalation,
                action=result.values.get("action", ""),
                notes=result.values.get("notes", ""),
                now=utcnow(),
            )
        except concerns.ConcernRuleBroken as broken:
            return await self._again(request, escalation, form_error=broken.message)
        flash(
            request, "success", i18n.gettext("What was done is recorded. Close the alert when nothing more is needed.")
        )
        return self._back(request, escalation)

    @post("/escalations/{public_id:uuid}/close", name="circles:escalation_close", guards=[officers])
    async def close(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        escalation = await escalation_or_404(request, public_id)
        values = await read_form(request)
        if stage(escalation) in ("waiting", "acknowledged"):
            return await self._again(
                request,
                escalation,
                form_error=i18n.gettext("Record what was done before you close this alert."),
                values=values,
            )
        try:
            await concerns.close(
                by=request.scope["user"],
                concern=concern_of(escalation),
                note=values.get("close_note", ""),
                now=utcnow(),
            )
        except concerns.ConcernRuleBroken as broken:
            return await self._again(request, escalation, form_error=broken.message, values=values)
        flash(request, "success", i18n.gettext("The alert is closed."))
        return self._back(request, escalation)
