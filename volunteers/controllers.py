"""Volunteer pages for coordinators: the pipeline, vetting and training, profile, supervision."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from cosa import audit, i18n
from cosa.auth import deny, found_or_deny, roles
from cosa.choices import gender_choices, slot_choices
from cosa.clock import utcnow
from cosa.forms import CONTROL_CHARACTERS, FormResult, read_form
from cosa.languages import language_choices
from cosa.tables import Role
from cosa.web import flash, render
from volunteers import services
from volunteers.forms import (
    STATUS_TAGS,
    VETTING_FIELDS,
    availability_grid,
    check_account_locale,
    check_profile,
    check_status,
    check_supervision,
    check_vetting,
    left_reason_choices,
    missing_sentences,
    profile_values,
    read_profile_form,
    status_labels,
    vetting_labels,
    vetting_values,
)
from volunteers.rules import TRANSITIONS, missing_for_active
from volunteers.subject_access import VolunteerExportController
from volunteers.tables import VolunteerStatus

Req = Request[Any, Any, Any]


def _is_fragment_request(request: Req) -> bool:
    return bool(request.headers.get("hx-request")) and not request.headers.get("hx-boosted")


async def _region_id(request: Req) -> int:
    """The coordinator's region: every volunteer page is scoped to it."""
    region = request.scope["user"].region
    if region is None:  # a coordinator not yet given a region reaches no volunteers at all
        await deny(request, "region", "")
    return int(region)


def _renewal_years(request: Req) -> int:
    return int(request.app.state.settings.dbs_renewal_years)


def _today() -> date:
    return services.london_today(utcnow())


def _labels() -> dict[str, Any]:
    return {"statuses": status_labels(), "status_tags": STATUS_TAGS}


class VolunteerController(Controller):
    path = "/volunteers"
    guards = [roles(Role.coordinator)]

    # --- the pipeline -------------------------------------------------------------------------------

    @get("/", name="volunteers:list")
    async def list(self, request: Req) -> Response[Any]:
        return await self._list(request, request.query_params.get("status", ""), "")

    @post("/search", name="volunteers:search")
    async def search(self, request: Req) -> Response[Any]:
        """A name or email searched for is sent in the body, never the address: personal data must not reach
        URLs, browser history or proxy logs (SECURITY.md 15). The status filter stays a link."""
        values = await read_form(request)
        response = await self._list(request, values.get("status", ""), values.get("q", ""))
        if _is_fragment_request(request):
            # The address bar follows the status filter (shareable), never the name searched for.
            status = values.get("status", "")
            target = request.app.route_reverse("volunteers:list")
            response.headers["HX-Push-Url"] = target + (
                f"?status={status}" if status in status_labels() and status else ""
            )
        return response

    async def _list(self, request: Req, status: str, search: str) -> Response[Any]:
        region_id = await _region_id(request)
        if status not in status_labels():
            status = ""
        search = CONTROL_CHARACTERS.sub("", search)[:100]
        volunteers, more = await services.list_volunteers(region_id, status=status, search=search)
        counts = await services.pipeline_counts(region_id)
        today = _today()
        for row in volunteers:
            row["dbs_expires_on"], row["dbs_state"] = services.dbs_state(
                row["dbs_certificate_on"], _renewal_years(request), today
            )
        return render(
            request,
            "volunteers/list.html",
            {
                **_labels(),
                "volunteers": volunteers,
                "more": more,
                "limit": services.LIST_LIMIT,
                "counts": counts,
                "total": sum(counts.values()),
                "status": status,
                "q": search,
            },
            block="volunteer_list" if _is_fragment_request(request) else None,
        )

    # --- a new application --------------------------------------------------------------------------

    @get("/new", name="volunteers:new")
    async def new_page(self, request: Req) -> Response[Any]:
        await _region_id(request)
        values = {"applied_on": _today().isoformat(), "max_circles": "2"}
        return _form_page(request, "new", values, {"languages": [], "availability": []})

    @post("/new", name="volunteers:create")
    async def create(self, request: Req) -> Response[Any]:
        region_id = await _region_id(request)
        result, chosen = await read_profile_form(request)
        profile = check_profile(result, chosen, _today())
        if profile is not None and await services.email_in_region(region_id, profile.email):
            result.error("email", i18n.gettext("A volunteer in your region already has this email address."))
        if profile is None or not result.ok:
            return _form_page(request, "new", result.values, chosen, result.errors, status_code=400)
        volunteer = await services.create_volunteer(
            by=request.scope["user"], region_id=region_id, profile=profile, now=utcnow()
        )
        flash(request, "success", i18n.gettext("Application added. Their status is ‘Applicant’."))
        return _to_detail(request, volunteer["public_id"])

    # --- one volunteer ------------------------------------------------------------------------------

    async def _volunteer(self, request: Req, public_id: UUID) -> dict[str, Any]:
        volunteer = await services.find_volunteer(await _region_id(request), public_id)
        return await found_or_deny(request, volunteer, "volunteer", public_id)

    @get("/{public_id:uuid}", name="volunteers:detail")
    async def detail(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        volunteer = await self._volunteer(request, public_id)
        # Supervision notes and vetting records are sensitive: who read them is on the record.
        await audit.record(
            services.VolunteerAction.VIEWED, actor=request.scope["user"], object_type="volunteer", object_id=public_id
        )
        return await _detail_page(request, volunteer)

    @get("/{public_id:uuid}/edit", name="volunteers:edit")
    async def edit_page(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        volunteer = await self._volunteer(request, public_id)
        values, chosen = profile_values(volunteer)
        return _form_page(request, "edit", values, chosen, volunteer=volunteer)

    @post("/{public_id:uuid}/edit", name="volunteers:update")
    async def update(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        volunteer = await self._volunteer(request, public_id)
        result, chosen = await read_profile_form(request)
        profile = check_profile(result, chosen, _today())
        if profile is not None and await services.email_in_region(
            volunteer["region"], profile.email, except_id=volunteer["id"]
        ):
            result.error("email", i18n.gettext("Another volunteer in your region already has this email address."))
        if profile is None or not result.ok:
            return _form_page(
                request, "edit", result.values, chosen, result.errors, volunteer=volunteer, status_code=400
            )
        changed = await services.update_profile(
            by=request.scope["user"], volunteer=volunteer, profile=profile, now=utcnow()
        )
        message = i18n.gettext("Profile saved.") if changed else i18n.gettext("Nothing was changed.")
        if "email" in changed and volunteer["user"] is not None:
            message += " " + i18n.gettext(
                "Their sign-in email address has not changed: ask an administrator if it should."
            )
        flash(request, "success", message)
        return _to_detail(request, public_id)

    @post("/{public_id:uuid}/vetting", name="volunteers:vetting")
    async def vetting(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        volunteer = await self._volunteer(request, public_id)
        result = FormResult(await read_form(request))
        vetting = check_vetting(result, _today())
        fragment = _is_fragment_request(request)
        if vetting is None:
            context: dict[str, Any] = {"errors": result.errors, "vetting_form": result.values, "vetting_open": True}
            if fragment:  # base.html's htmx config swaps 4xx answers too
                return await _detail_page(request, volunteer, block="vetting", partial=True, status_code=400, **context)
            return await _detail_page(request, volunteer, status_code=400, **context)
        changed = await services.record_vetting(
            by=request.scope["user"], volunteer=volunteer, vetting=vetting, now=utcnow()
        )
        message = i18n.gettext("Vetting and training dates saved.") if changed else i18n.gettext("Nothing was changed.")
        if fragment:
            volunteer = await self._volunteer(request, public_id)
            return await _detail_page(request, volunteer, block="vetting", partial=True, saved_message=message)
        flash(request, "success", message)
        return _to_detail(request, public_id, "vetting")

    @post("/{public_id:uuid}/status", name="volunteers:status")
    async def status(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        volunteer = await self._volunteer(request, public_id)
        result = FormResult(await read_form(request))
        allowed = TRANSITIONS.get(volunteer["status"], ())
        choice = check_status(result, allowed, volunteer["status"])
        status_code = 400
        if choice is not None:
            try:
                await services.change_status(
                    by=request.scope["user"],
                    volunteer=volunteer,
                    to_status=choice.to_status,
                    reason=choice.reason,
                    renewal_years=_renewal_years(request),
                    now=utcnow(),
                )
            except services.StatusChangeRefused as refused:
                if refused.code == "not_ready":
                    result.error(
                        "to_status",
                        i18n.gettext(
                            "They cannot become active yet. Still needed: %(missing)s",
                            missing=" ".join(missing_sentences(refused.missing)),
                        ),
                    )
                else:
                    status_code = 409
                    result.error(
                        "to_status",
                        i18n.gettext(
                            "Their status was changed by someone else a moment ago. Check it below and try again."
                        ),
                    )
                    volunteer = await self._volunteer(request, public_id)
            else:
                flash(request, "success", _status_message(choice.to_status, volunteer))
                return _to_detail(request, public_id)
        return await _detail_page(
            request, volunteer, status_code=status_code, errors=result.errors, status_form=result.values
        )

    @post("/{public_id:uuid}/supervision", name="volunteers:supervision")
    async def supervision(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        volunteer = await self._volunteer(request, public_id)
        result = FormResult(await read_form(request))
        session = check_supervision(result, _today())
        if session is None:
            return await _detail_page(
                request, volunteer, status_code=400, errors=result.errors, supervision_form=result.values
            )
        await services.add_supervision(
            by=request.scope["user"], volunteer=volunteer, held_on=session.held_on, notes=session.notes, now=utcnow()
        )
        flash(request, "success", i18n.gettext("Supervision session recorded."))
        return _to_detail(request, public_id, "supervision")

    @post("/{public_id:uuid}/account", name="volunteers:account")
    async def account(self, request: Req, public_id: FromPath[UUID]) -> Response[Any]:
        volunteer = await self._volunteer(request, public_id)
        result = FormResult(await read_form(request))
        locale = check_account_locale(result)
        if result.ok:
            try:
                await services.create_account(
                    request.app.state.settings,
                    request.app.state.jinja,
                    by=request.scope["user"],
                    volunteer=volunteer,
                    locale=locale,
                    now=utcnow(),
                )
            except services.AccountRefused as refused:
                # About the account as a whole, not the language chosen: shown at the top of that section.
                result.error("account", _account_refusal(refused.code))
            else:
                flash(
                    request,
                    "success",
                    i18n.gettext(
                        "Account created. They have been sent an email with a link to set their password. "
                        "The link works for %(hours)s hours.",
                        hours=request.app.state.settings.invitation_valid_hours,
                    ),
                )
                return _to_detail(request, public_id, "account")
        return await _detail_page(request, volunteer, status_code=400, errors=result.errors, account_form=result.values)


def _to_detail(request: Req, public_id: Any, anchor: str = "") -> Redirect:
    path = request.app.route_reverse("volunteers:detail", public_id=public_id)
    return Redirect(path=path + (f"#{anchor}" if anchor else ""), status_code=303)


def _status_message(to_status: str, volunteer: dict[str, Any]) -> str:
    if to_status == VolunteerStatus.left and volunteer["user"] is not None:
        return i18n.gettext("Status changed to ‘Left’. Their sign-in account is now closed.")
    return i18n.gettext("Status changed to ‘%(status)s’.", status=status_labels()[to_status])


def _account_refusal(code: str) -> str:
    if code == "email_taken":
        return i18n.gettext(
            "There is already an account with this volunteer's email address. It may be an older account of "
            "theirs or belong to someone else: ask an administrator to check it, or correct the email address "
            "on their profile."
        )
    if code == "has_account":
        return i18n.gettext("They already have a sign-in account.")
    return i18n.gettext("A sign-in account can be created once they are trained, active or resting.")


def _form_page(
    request: Req,
    mode: str,
    values: dict[str, str],
    chosen: dict[str, list[str]],
    errors: dict[str, str] | None = None,
    *,
    volunteer: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response[Any]:
    return render(
        request,
        "volunteers/form.html",
        {
            "mode": mode,
            "volunteer": volunteer,
            "values": values,
            "chosen": chosen,
            "errors": errors or {},
            "genders": gender_choices(),
            "languages": language_choices(),
            "availability": availability_grid(),
        },
        status_code=status_code,
    )


async def _detail_page(
    request: Req,
    volunteer: dict[str, Any],
    *,
    status_code: int = 200,
    block: str | None = None,
    **extra: Any,
) -> Response[Any]:
    today = _today()
    renewal_years = _renewal_years(request)
    dbs_expires_on, dbs_state = services.dbs_state(volunteer["dbs_certificate_on"], renewal_years, today)
    missing = missing_for_active(services.vetting_of(volunteer), today, renewal_years)
    history, sessions, account = [], [], None
    if block is None:
        history = await services.status_history(volunteer["id"])
        sessions = await services.supervision_sessions(volunteer["id"])
        account = await services.account_of(volunteer)
    languages = language_choices()
    slots = slot_choices()
    context: dict[str, Any] = {
        **_labels(),
        "volunteer": volunteer,
        "gender_label": gender_choices().get(volunteer["gender"], ""),
        "language_labels": [languages.get(code, code) for code in volunteer["languages"] or []],
        "slot_labels": [slots.get(slot, slot) for slot in volunteer["availability"] or []],
        "dbs_expires_on": dbs_expires_on,
        "dbs_state": dbs_state,
        "renewal_years": renewal_years,
        "missing": missing_sentences(missing),
        "vetting_labels": vetting_labels(),
        "vetting_fields": VETTING_FIELDS,
        "vetting_form": vetting_values(volunteer),
        "vetting_open": False,
        "next_statuses": {s: status_labels()[s] for s in TRANSITIONS.get(volunteer["status"], ())},
        "left_reasons": left_reason_choices(),
        "status_form": {},
        "history": history,
        "sessions": sessions,
        "supervision_form": {"held_on": today.isoformat()},
        "account": account,
        "account_eligible": volunteer["status"] in services.ACCOUNT_STATUSES,
        "account_form": {"locale": i18n.get_locale()},
        "locales": i18n.LANGUAGE_NAMES,
        "partial": False,
        "saved_message": "",
        "today": today,
        **extra,
    }
    return render(request, "volunteers/detail.html", context, status_code=status_code, block=block)


ROUTES: list[Any] = [VolunteerController, VolunteerExportController]
