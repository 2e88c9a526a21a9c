"""Check-ins: a volunteer's record of contact between meetings, logged from a phone in under a minute.

A check-in is never lost: the form carries an idempotency key made when the app served it, so sending it
again after a dropped connection finds the first one instead of adding a second.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from circles import concerns
from circles.circle_pages import circle_or_404
from circles.indicators import group_labels, indicators_for, labels_for
from circles.tables import CheckIn, Circle, CircleMembership, CircleState, ContactMethod, MembershipStatus, Severity
from cosa import audit, i18n, outbox
from cosa.auth import roles
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.forms import FormResult, check_choice, read_form, read_multi
from cosa.i18n import LONDON
from cosa.tables import Role
from cosa.web import flash, render
from volunteers.tables import Volunteer

Req = Request[Any, Any, Any]
volunteers_only = roles(Role.volunteer)
timeline_readers = roles(Role.coordinator, Role.volunteer)
OPEN = [
    CircleState.accepted.value,
    CircleState.forming.value,
    CircleState.active.value,
    CircleState.tapering.value,
    CircleState.ending.value,
    CircleState.paused.value,
]
LOGGED = "check_in.logged"


def method_labels() -> dict[str, str]:
    return {
        ContactMethod.in_person: i18n.gettext("In person"),
        ContactMethod.phone: i18n.gettext("Phone call"),
        ContactMethod.message: i18n.gettext("Messages"),
        ContactMethod.other: i18n.gettext("Other"),
    }


def wellbeing_labels() -> dict[str, str]:
    return {
        "5": i18n.gettext("Doing well"),
        "4": i18n.gettext("Fairly well"),
        "3": i18n.gettext("Up and down"),
        "2": i18n.gettext("Struggling"),
        "1": i18n.gettext("Very worried about them"),
    }


async def my_circles(user: Any) -> list[dict[str, Any]]:
    """The open circles this volunteer serves in, with the cohort that decides their indicators."""
    return (
        await Circle.select(Circle.id, Circle.public_id, Circle.code_name, Circle.core_member._.cohort)
        .where(
            Circle.state.is_in(OPEN),
            Circle.id.is_in(
                CircleMembership.select(CircleMembership.circle).where(
                    CircleMembership.status == MembershipStatus.accepted.value,
                    CircleMembership.volunteer.is_in(Volunteer.select(Volunteer.id).where(Volunteer.user == user.id)),
                )
            ),
        )
        .order_by(Circle.code_name)
    )


def local_now() -> str:
    return utcnow().astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


def check_when(result: FormResult, now: datetime, name: str = "happened_at", missing: str = "") -> datetime | None:
    """A local date and time from an <input type="datetime-local">, not in the future nor long ago."""
    raw = result.values.get(name, "").strip()
    if not raw:
        result.error(name, missing or i18n.gettext("Enter when you were in touch."))
        return None
    try:
        local = datetime.fromisoformat(raw)
    except ValueError:
        result.error(name, i18n.gettext("Enter a date and time, for example 27 3 2026 18:30."))
        return None
    when = local.replace(tzinfo=LONDON) if local.tzinfo is None else local
    if when > now + timedelta(minutes=5):
        result.error(name, i18n.gettext("The time cannot be in the future."))
    elif when < now - timedelta(days=60):
        result.error(
            name,
            i18n.gettext(
                "Check-ins can be logged up to 60 days afterwards; tell your coordinator about older contact."
            ),
        )
    return when


class CheckInController(Controller):
    @get("/check-ins/new", name="circles:check_in_new", guards=[volunteers_only])
    async def new(self, request: Req) -> Response[Any]:
        circles = await my_circles(request.scope["user"])
        chosen = request.query_params.get("circle", "")
        circle = next((c for c in circles if str(c["public_id"]) == chosen), None)
        if circle is None and len(circles) == 1:
            circle = circles[0]
        if circle is None:
            return render(request, "circles/check_in_choose.html", {"circles": circles})
        return await self._form(request, circle, {"happened_at": local_now()}, [])

    async def _form(
        self,
        request: Req,
        circle: dict[str, Any],
        values: dict[str, str],
        ticked: list[str],
        status_code: int = 200,
        errors: dict[str, str] | None = None,
    ) -> Response[Any]:
        indicators = await indicators_for(circle["core_member.cohort"])
        groups: dict[str, list[dict[str, Any]]] = {}
        for indicator in indicators:
            groups.setdefault(indicator["group"], []).append(indicator)
        values = {"idempotency_key": uuid.uuid4().hex, **values}
        fragment = bool(request.headers.get("hx-request")) and status_code != 200
        return render(
            request,
            "circles/check_in_form.html",
            {
                "circle": circle,
                "values": values,
                "ticked": ticked,
                "groups": groups,
                "group_labels": group_labels(),
                "methods": method_labels(),
                "wellbeing": wellbeing_labels(),
                "errors": errors or {},
            },
            status_code=status_code,
            block="check_in_form" if fragment else None,
        )

    @post("/check-ins", name="circles:check_in_create", guards=[volunteers_only])
    async def create(self, request: Req) -> Response[Any]:
        user = request.scope["user"]
        result = FormResult(await read_form(request))
        ticked = await read_multi(request, "indicators")
        key = result.values.get("idempotency_key", "")[:64]
        existing = (
            await CheckIn.select(CheckIn.circle._.public_id).where(CheckIn.idempotency_key == key).first()
            if key
            else None
        )
        if existing is not None:  # sent again after a lost connection: it arrived the first time
            return self._done(request, existing["circle.public_id"], duplicate=True)
        circles = await my_circles(user)
        circle = next((c for c in circles if str(c["public_id"]) == result.values.get("circle", "")), None)
        if circle is None:
            return render(
                request,
                "circles/check_in_choose.html",
                {
                    "circles": circles,
                    "form_error": i18n.gettext(
                        "You can only log check-ins for circles you are in. Choose one of yours."
                    ),
                },
                status_code=400,
            )
        now = utcnow()
        when = check_when(result, now)
        method = check_choice(result, "method", method_labels(), i18n.gettext("Choose how you were in touch."))
        wellbeing = result.values.get("wellbeing", "")
        if wellbeing and wellbeing not in wellbeing_labels():
            result.error("wellbeing", i18n.gettext("Choose one of the options."))
        indicators = await indicators_for(circle["core_member.cohort"])
        allowed = {i["code"] for i in indicators}
        if any(code not in allowed for code in ticked):
            result.error("indicators", i18n.gettext("Choose from the indicators shown."))
        if not key:
            result.error("happened_at", i18n.gettext("This form is out of date. Reload the page and send it again."))
        if not result.ok or when is None:
            return await self._form(request, circle, result.values, ticked, status_code=400, errors=result.errors)
        volunteer = await Volunteer.select(Volunteer.id).where(Volunteer.user == user.id).first()
        async with write_transaction():
            if await CheckIn.exists().where(CheckIn.idempotency_key == key):
                return self._done(request, circle["public_id"], duplicate=True)
            rows = await CheckIn.insert(
                CheckIn(
                    circle=circle["id"],
                    volunteer=volunteer["id"] if volunteer else None,
                    idempotency_key=key,
                    happened_at=when,
                    method=method,
                    wellbeing=int(wellbeing or 0),
                    indicators=ticked,
                    notes=result.values.get("notes", "").strip(),
                    created_at=now,
                )
            ).returning(CheckIn.id, CheckIn.public_id)
            await audit.record(
                LOGGED,
                actor=user,
                object_type="check_in",
                object_id=rows[0]["public_id"],
                detail={"indicators": len(ticked)},
                now=now,
            )
            # Some indicators raise a concern by themselves, in the same transaction as the check-in.
            raising = [i["code"] for i in indicators if i["raises_concern"] and i["code"] in ticked]
            concern_id = None
            if raising:
                concern_id = await concerns.raise_concern(
                    request.app.state.settings,
                    request.app.state.jinja,
                    by=user,
                    circle=circle,
                    severity=Severity.concern.value,
                    description="",
                    indicators=raising,
                    seen_at=when,
                    now=now,
                    check_in_id=rows[0]["id"],
                )
        outbox.wake()
        if concern_id is not None:
            flash(
                request,
                "success",
                i18n.gettext(
                    "Check-in sent. What you ticked has raised a concern with your coordinator; you can add to it below."
                ),
            )
            target = request.app.route_reverse("circles:concern", public_id=concern_id)
            if request.headers.get("hx-request"):
                return Response(content="", status_code=200, headers={"HX-Redirect": target})
            return Redirect(path=target, status_code=303)
        return self._done(request, circle["public_id"], duplicate=False)

    def _done(self, request: Req, circle_id: Any, *, duplicate: bool) -> Response[Any]:
        flash(
            request,
            "success",
            i18n.gettext("This check-in had already arrived; nothing was sent twice.")
            if duplicate
            else i18n.gettext("Check-in sent. Thank you."),
        )
        target = request.app.route_reverse("circles:check_ins", public_id=circle_id)
        if request.headers.get("hx-request"):
            return Response(content="", status_code=200, headers={"HX-Redirect": target})
        return Redirect(path=target, status_code=303)

    @get("/circles/{public_id:uuid}/check-ins", name="circles:check_ins", guards=[timeline_readers])
    async def timeline(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        rows = (
            await CheckIn.select(
                CheckIn.public_id,
                CheckIn.happened_at,
                CheckIn.method,
                CheckIn.wellbeing,
                CheckIn.indicators,
                CheckIn.notes,
                CheckIn.volunteer._.display_name,
            )
            .where(CheckIn.circle == circle["id"])
            .order_by(CheckIn.happened_at, ascending=False)
            .limit(100)
            .output(load_json=True)
        )
        labels = await labels_for(sorted({code for row in rows for code in row["indicators"] or []}))
        return render(
            request,
            "circles/check_ins.html",
            {
                "circle": circle,
                "check_ins": rows,
                "labels": labels,
                "methods": method_labels(),
                "wellbeing": wellbeing_labels(),
                "can_log": request.scope["user"].role == Role.volunteer.value,
            },
        )
