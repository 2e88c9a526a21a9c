"""Core member pages: referral, the record (need to know), NRM, needs, risk connections and notes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from circles.circle_services import circle_state_labels
from circles.forms import (
    check_districts,
    cohort_choices,
    core_member_fields,
    decision_choices,
    nrm_fields,
    preference_choices,
)
from circles.services import (
    address_warnings,
    core_member_or_404,
    core_member_scope,
    needs_of,
    needs_summary,
    notes_of,
    nrm_days_waiting,
    risk_connections_of,
    set_need,
)
from circles.tables import CaseNote, Circle, ConnectionKind, CoreMember, NeedArea, NeedStatus, RiskConnection
from cosa import audit, i18n
from cosa.audit import Action
from cosa.auth import found_or_deny, roles
from cosa.choices import gender_choices
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.forms import CONTROL_CHARACTERS, FormResult, check_choice, check_text, read_form, read_multi
from cosa.i18n import LONDON
from cosa.languages import language_choices, language_name
from cosa.tables import Role, User
from cosa.web import flash, render

Req = Request[Any, Any, Any]
coordinators = roles(Role.coordinator)
case_workers = roles(Role.coordinator, Role.probation)


def need_area_labels() -> dict[str, str]:
    return {
        NeedArea.accommodation: i18n.gettext("Accommodation"),
        NeedArea.employment: i18n.gettext("Employment, education and training"),
        NeedArea.finances: i18n.gettext("Finances and debt"),
        NeedArea.mental_health: i18n.gettext("Mental health"),
        NeedArea.substance_use: i18n.gettext("Substance use"),
        NeedArea.immigration: i18n.gettext("Immigration status"),
        NeedArea.family: i18n.gettext("Family"),
        NeedArea.isolation: i18n.gettext("Isolation"),
    }


def need_status_labels() -> dict[str, str]:
    return {
        NeedStatus.unmet: i18n.gettext("Unmet"),
        NeedStatus.partly_met: i18n.gettext("Partly met"),
        NeedStatus.met: i18n.gettext("Met"),
        NeedStatus.not_applicable: i18n.gettext("Not applicable"),
    }


def connection_kind_labels() -> dict[str, str]:
    return {
        ConnectionKind.person: i18n.gettext("A person"),
        ConnectionKind.place: i18n.gettext("A place"),
        ConnectionKind.community: i18n.gettext("A community or group"),
    }


def today() -> Any:
    return utcnow().astimezone(LONDON).date()


async def probation_officers_for(region_id: int | None) -> dict[str, str]:
    """Active probation officers of the region, by public id, for the select box."""
    rows = (
        await User.select(User.public_id, User.display_name)
        .where(User.role == Role.probation.value, User.is_active.eq(True), User.region == region_id)
        .order_by(User.display_name)
    )
    return {str(r["public_id"]): r["display_name"] for r in rows}


def form_context(**extra: Any) -> dict[str, Any]:
    return {
        "cohorts": cohort_choices(),
        "genders": gender_choices(),
        "preferences": preference_choices(),
        "languages": language_choices(),
        **extra,
    }


class CoreMemberController(Controller):
    path = "/core-members"

    @get("/", name="circles:core_members", guards=[case_workers])
    async def list(self, request: Req) -> Response[Any]:
        return await self._list(request, "")

    @post("/search", name="circles:core_members_search", guards=[case_workers])
    async def search(self, request: Req) -> Response[Any]:
        """The name search is sent in the body, never the address: names must not reach URLs, browser
        history or proxy logs (SECURITY.md 15)."""
        values = await read_form(request)
        return await self._list(request, values.get("q", ""))

    async def _list(self, request: Req, query: str) -> Response[Any]:
        user = request.scope["user"]
        query = CONTROL_CHARACTERS.sub("", query).strip()[:60]
        select = CoreMember.select(
            CoreMember.public_id,
            CoreMember.full_name,
            CoreMember.known_as,
            CoreMember.cohort,
            CoreMember.referred_on,
            CoreMember.release_on,
            CoreMember.probation_officer._.display_name,
        ).where(core_member_scope(user))
        if query:
            select = select.where(CoreMember.full_name.ilike(f"%{query}%") | CoreMember.known_as.ilike(f"%{query}%"))
        rows = await select.order_by(CoreMember.full_name)
        return render(
            request,
            "circles/core_members.html",
            {"core_members": rows, "q": query, "cohorts": cohort_choices()},
            block="core_member_list"
            if request.headers.get("hx-request") and not request.headers.get("hx-boosted")
            else None,
        )

    @get("/new", name="circles:core_member_new", guards=[coordinators])
    async def new_page(self, request: Req) -> Response[Any]:
        officers = await probation_officers_for(request.scope["user"].region)
        values = {"referred_on": today().isoformat(), "volunteer_gender_preference": ""}
        return render(
            request, "circles/core_member_form.html", form_context(officers=officers, values=values, selected=[])
        )

    @post("/new", name="circles:core_member_create", guards=[coordinators])
    async def create(self, request: Req) -> Response[Any]:
        user = request.scope["user"]
        officers = await probation_officers_for(user.region)
        result = FormResult(await read_form(request))
        chosen = await read_multi(request, "languages")
        fields = core_member_fields(result, chosen, officers, today())
        if not result.ok:
            return render(
                request,
                "circles/core_member_form.html",
                form_context(officers=officers, values=result.values, selected=chosen, errors=result.errors),
                status_code=400,
            )
        now = utcnow()
        fields["probation_officer"] = await _user_id(fields["probation_officer"])
        async with write_transaction():
            rows = await CoreMember.insert(
                CoreMember(**fields, region=user.region, referred_by=user.id, created_at=now, updated_at=now)
            ).returning(CoreMember.public_id)
            public_id = rows[0]["public_id"]
            await audit.record(
                Action.CORE_MEMBER_REFERRED, actor=user, object_type="core_member", object_id=public_id, now=now
            )
        flash(
            request, "success", i18n.gettext("The referral is recorded. Next, assess their needs and risk connections.")
        )
        return Redirect(path=request.app.route_reverse("circles:core_member", public_id=public_id), status_code=303)

    @get("/{public_id:uuid}", name="circles:core_member", guards=[case_workers])
    async def detail(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        await audit.record(
            Action.CORE_MEMBER_VIEWED, actor=request.scope["user"], object_type="core_member", object_id=public_id
        )
        return render(request, "circles/core_member.html", await self._context(request, core_member))

    async def _context(self, request: Req, core_member: dict[str, Any], **extra: Any) -> dict[str, Any]:
        connections = await risk_connections_of(core_member["id"])
        needs = await needs_of(core_member["id"])
        officer = None
        if core_member["probation_officer"]:
            officer = await User.select(User.display_name).where(User.id == core_member["probation_officer"]).first()
        circles = (
            await Circle.select(Circle.public_id, Circle.code_name, Circle.state)
            .where(Circle.core_member == core_member["id"])
            .order_by(Circle.created_at, ascending=False)
        )
        return {
            "core_member": core_member,
            "officer": officer["display_name"] if officer else "",
            "spoken_languages": [language_name(code) for code in core_member["languages"] or []],
            "cohorts": cohort_choices(),
            "genders": gender_choices(),
            "preferences": preference_choices(),
            "decisions": decision_choices(),
            "needs": needs,
            "needs_summary": needs_summary(needs),
            "need_areas": need_area_labels(),
            "need_statuses": need_status_labels(),
            "connections": connections,
            "connection_kinds": connection_kind_labels(),
            "warnings": address_warnings(core_member["address_district"], connections),
            "waiting": nrm_days_waiting(core_member, today()),
            "notes": await notes_of(core_member["id"]),
            "circles": circles,
            "circle_states": circle_state_labels(),
            "open_circle": any(c["state"] not in ("closed", "terminated") for c in circles),
            "can_edit": request.scope["user"].role == Role.coordinator.value,
            **extra,
        }

    @get("/{public_id:uuid}/edit", name="circles:core_member_edit", guards=[coordinators])
    async def edit_page(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        officers = await probation_officers_for(core_member["region"])
        values = {k: ("" if v is None else str(v)) for k, v in core_member.items()}
        if core_member["probation_officer"]:
            officer = await User.select(User.public_id).where(User.id == core_member["probation_officer"]).first()
            values["probation_officer"] = str(officer["public_id"]) if officer else ""
        return render(
            request,
            "circles/core_member_form.html",
            form_context(
                officers=officers, values=values, selected=core_member["languages"] or [], core_member=core_member
            ),
        )

    @post("/{public_id:uuid}/edit", name="circles:core_member_update", guards=[coordinators])
    async def update(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        officers = await probation_officers_for(core_member["region"])
        result = FormResult(await read_form(request))
        chosen = await read_multi(request, "languages")
        fields = core_member_fields(result, chosen, officers, today())
        if not result.ok:
            return render(
                request,
                "circles/core_member_form.html",
                form_context(
                    officers=officers,
                    values=result.values,
                    selected=chosen,
                    errors=result.errors,
                    core_member=core_member,
                ),
                status_code=400,
            )
        now = utcnow()
        fields["probation_officer"] = await _user_id(fields["probation_officer"])
        async with write_transaction():
            await CoreMember.update({**_columns(fields), CoreMember.updated_at: now}).where(
                CoreMember.id == core_member["id"]
            )
            await audit.record(
                Action.CORE_MEMBER_UPDATED,
                actor=request.scope["user"],
                object_type="core_member",
                object_id=public_id,
                now=now,
            )
        flash(request, "success", i18n.gettext("The record is updated."))
        return Redirect(path=request.app.route_reverse("circles:core_member", public_id=public_id), status_code=303)

    @get("/{public_id:uuid}/nrm", name="circles:nrm_edit", guards=[coordinators])
    async def nrm_page(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        values = {k: ("" if v is None else str(v)) for k, v in core_member.items() if k.startswith("nrm_")}
        values["public_order_disqualification"] = "yes" if core_member["public_order_disqualification"] else ""
        return render(
            request,
            "circles/nrm_form.html",
            {"core_member": core_member, "values": values, "decisions": decision_choices()},
        )

    @post("/{public_id:uuid}/nrm", name="circles:nrm_update", guards=[coordinators])
    async def nrm_update(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        result = FormResult(await read_form(request))
        fields = nrm_fields(result, today())
        if not result.ok:
            return render(
                request,
                "circles/nrm_form.html",
                {
                    "core_member": core_member,
                    "values": result.values,
                    "errors": result.errors,
                    "decisions": decision_choices(),
                },
                status_code=400,
            )
        now = utcnow()
        async with write_transaction():
            await CoreMember.update({**_columns(fields), CoreMember.updated_at: now}).where(
                CoreMember.id == core_member["id"]
            )
            await audit.record(
                Action.NRM_UPDATED, actor=request.scope["user"], object_type="core_member", object_id=public_id, now=now
            )
        flash(request, "success", i18n.gettext("The NRM record is updated."))
        return Redirect(path=request.app.route_reverse("circles:core_member", public_id=public_id), status_code=303)

    @post("/{public_id:uuid}/needs", name="circles:need_update", guards=[coordinators])
    async def need_update(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        result = FormResult(await read_form(request))
        area = check_choice(result, "area", need_area_labels(), i18n.gettext("Choose a need."))
        status = check_choice(result, "status", need_status_labels(), i18n.gettext("Choose a status."))
        htmx = bool(request.headers.get("hx-request"))
        if not result.ok:
            context = await self._context(request, core_member, errors=result.errors)
            return render(
                request, "circles/core_member.html", context, status_code=400, block="needs" if htmx else None
            )
        changed = await set_need(
            by=request.scope["user"], core_member=core_member, area=area, status=status, on=today(), now=utcnow()
        )
        message = i18n.gettext(
            "%(need)s: now %(status)s.", need=need_area_labels()[area], status=need_status_labels()[status].lower()
        )
        if htmx:
            context = await self._context(request, core_member, need_message=message if changed else "")
            return render(request, "circles/core_member.html", context, block="needs")
        if changed:
            flash(request, "success", message)
        return Redirect(
            path=request.app.route_reverse("circles:core_member", public_id=public_id) + "#needs", status_code=303
        )

    @post("/{public_id:uuid}/connections", name="circles:connection_add", guards=[coordinators])
    async def connection_add(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        result = FormResult(await read_form(request))
        kind = check_choice(
            result,
            "kind",
            connection_kind_labels(),
            i18n.gettext("Choose whether this is a person, a place or a community."),
        )
        description = check_text(
            result, "description", required_message=i18n.gettext("Describe the connection."), max_length=2000
        )
        districts = check_districts(result, "districts")
        cuckooing = result.values.get("cuckooing") == "yes"
        if cuckooing and not districts:
            result.error("districts", i18n.gettext("Give the postcode district of the address known for cuckooing."))
        if not result.ok:
            context = await self._context(request, core_member, errors=result.errors, values=result.values)
            return render(request, "circles/core_member.html", context, status_code=400)
        now = utcnow()
        async with write_transaction():
            await RiskConnection.insert(
                RiskConnection(
                    core_member=core_member["id"],
                    kind=kind,
                    description=description,
                    districts=districts,
                    cuckooing=cuckooing,
                    created_at=now,
                    created_by=request.scope["user"].id,
                )
            )
            await audit.record(
                Action.RISK_CONNECTION_ADDED,
                actor=request.scope["user"],
                object_type="core_member",
                object_id=public_id,
                now=now,
            )
        flash(
            request,
            "success",
            i18n.gettext(
                "The risk connection is recorded. Matching will keep volunteers linked to it out of this circle."
            ),
        )
        return Redirect(
            path=request.app.route_reverse("circles:core_member", public_id=public_id) + "#connections", status_code=303
        )

    @post(
        "/{public_id:uuid}/connections/{connection_id:uuid}/remove",
        name="circles:connection_remove",
        guards=[coordinators],
    )
    async def connection_remove(
        self, request: Req, public_id: FromPath[UUID], connection_id: FromPath[UUID]
    ) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        row = (
            await RiskConnection.select(RiskConnection.id)
            .where(RiskConnection.public_id == connection_id, RiskConnection.core_member == core_member["id"])
            .first()
        )
        row = await found_or_deny(request, row, "risk_connection", connection_id)
        async with write_transaction():
            await RiskConnection.delete().where(RiskConnection.id == row["id"])
            await audit.record(
                Action.RISK_CONNECTION_REMOVED,
                actor=request.scope["user"],
                object_type="core_member",
                object_id=public_id,
            )
        flash(request, "success", i18n.gettext("The risk connection is removed."))
        return Redirect(
            path=request.app.route_reverse("circles:core_member", public_id=public_id) + "#connections", status_code=303
        )

    @post("/{public_id:uuid}/notes", name="circles:note_add", guards=[coordinators])
    async def note_add(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        result = FormResult(await read_form(request))
        body = result.values.get("body", "").strip()
        if not body:
            result.error("body", i18n.gettext("Write the note."))
        if not result.ok:
            context = await self._context(request, core_member, errors=result.errors, values=result.values)
            return render(request, "circles/core_member.html", context, status_code=400)
        now = utcnow()
        shared = result.values.get("shared_with_circle") == "yes"
        async with write_transaction():
            await CaseNote.insert(
                CaseNote(
                    core_member=core_member["id"],
                    body=body,
                    shared_with_circle=shared,
                    created_at=now,
                    created_by=request.scope["user"].id,
                )
            )
            await audit.record(
                Action.NOTE_ADDED,
                actor=request.scope["user"],
                object_type="core_member",
                object_id=public_id,
                detail={"shared": shared},
                now=now,
            )
        flash(request, "success", i18n.gettext("The note is saved."))
        return Redirect(
            path=request.app.route_reverse("circles:core_member", public_id=public_id) + "#notes", status_code=303
        )

    @post("/{public_id:uuid}/notes/{note_id:uuid}/sharing", name="circles:note_sharing", guards=[coordinators])
    async def note_sharing(self, request: Req, public_id: FromPath[UUID], note_id: FromPath[UUID]) -> Response[Any]:
        core_member = await core_member_or_404(request, public_id)
        note = (
            await CaseNote.select(CaseNote.id, CaseNote.shared_with_circle)
            .where(CaseNote.public_id == note_id, CaseNote.core_member == core_member["id"])
            .first()
        )
        note = await found_or_deny(request, note, "case_note", note_id)
        shared = not note["shared_with_circle"]
        async with write_transaction():
            await CaseNote.update({CaseNote.shared_with_circle: shared}).where(CaseNote.id == note["id"])
            await audit.record(
                Action.NOTE_SHARING_CHANGED,
                actor=request.scope["user"],
                object_type="core_member",
                object_id=public_id,
                detail={"shared": shared},
            )
        flash(
            request,
            "success",
            i18n.gettext("The note is now shared with the circle's volunteers.")
            if shared
            else i18n.gettext("The note is no longer shared with the circle."),
        )
        return Redirect(
            path=request.app.route_reverse("circles:core_member", public_id=public_id) + "#notes", status_code=303
        )


async def _user_id(public_id: str) -> int | None:
    if not public_id:
        return None
    row = await User.select(User.id).where(User.public_id == public_id).first()
    return row["id"] if row else None


def _columns(fields: dict[str, Any]) -> dict[Any, Any]:
    return {getattr(CoreMember, name): value for name, value in fields.items()}
