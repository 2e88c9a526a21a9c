"""The administrator's escalation policy: how long probation have to acknowledge an alert, and who is told
next when they do not (the duty inbox, then the programme lead). One form per severity that escalates."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from circles.concerns import Policy, policy_for
from circles.tables import EscalationPolicy, Severity
from cosa import audit, i18n
from cosa.auth import admin_only, found_or_deny
from cosa.db import write_transaction
from cosa.forms import FormResult, check_email, check_int, read_form
from cosa.web import flash, render

Req = Request[Any, Any, Any]
SEVERITIES = (Severity.urgent.value, Severity.concern.value)
ACKNOWLEDGE_MINUTES = (5, 10080)  # up to a week
URGENT_ACKNOWLEDGE_MAX = 240
LEAD_MINUTES = (5, 10080)
ACTION_MINUTES = (5, 20160)  # up to a fortnight
FIELDS = ("acknowledge", "lead_after", "action_within", "working_hours", "duty_inbox", "programme_lead")
SAVED = "escalation_policy.saved"


def headings() -> dict[str, str]:
    return {
        Severity.urgent.value: i18n.gettext("Urgent alerts"),
        Severity.concern.value: i18n.gettext("Concerns sent to probation"),
    }


def saved_messages() -> dict[str, str]:
    return {
        Severity.urgent.value: i18n.gettext("The policy for urgent alerts is saved."),
        Severity.concern.value: i18n.gettext("The policy for concerns sent to probation is saved."),
    }


def field_name(severity: str, name: str) -> str:
    """Both forms are on one page, so their fields (and the error summary's links) carry the severity."""
    return f"{severity}-{name}"


def _minutes(td: Any) -> str:
    return "" if td is None else str(int(td.total_seconds() // 60))


def policy_values(policy: Policy) -> dict[str, str]:
    """A policy as the text its form shows."""
    values = {
        "acknowledge": _minutes(policy.acknowledge_within),
        "lead_after": _minutes(policy.lead_after),
        "action_within": _minutes(policy.action_within),
        "working_hours": "yes" if policy.working_hours_only else "",
        "duty_inbox": policy.duty_inbox,
        "programme_lead": policy.programme_lead,
    }
    return {field_name(policy.severity, k): v for k, v in values.items()}


def _whole_minutes(result: FormResult, name: str, bounds: tuple[int, int], missing: str | None) -> int | None:
    """Minutes from a text box; empty is None when `missing` is None (the field is optional)."""
    if not result.values.get(name, "").strip():
        if missing:
            result.error(name, missing)
        return None
    return check_int(result, name, minimum=bounds[0], maximum=bounds[1])


def _optional_email(result: FormResult, name: str) -> str:
    return check_email(result, name) if result.values.get(name, "").strip() else ""


def check_policy(severity: str, result: FormResult) -> dict[str, Any]:
    """The EscalationPolicy columns from one severity's form; errors go on `result`."""
    name = {f: field_name(severity, f) for f in FIELDS}
    acknowledge = _whole_minutes(
        result,
        name["acknowledge"],
        ACKNOWLEDGE_MINUTES,
        i18n.gettext("Enter how many minutes probation have to acknowledge an alert."),
    )
    if severity == Severity.urgent.value and acknowledge is not None and acknowledge > URGENT_ACKNOWLEDGE_MAX:
        result.error(
            name["acknowledge"],
            i18n.gettext(
                "Urgent alerts must move fast: probation must acknowledge them within %(max)s minutes "
                "(%(hours)s hours) at most. Enter %(max)s or fewer.",
                max=URGENT_ACKNOWLEDGE_MAX,
                hours=URGENT_ACKNOWLEDGE_MAX // 60,
            ),
        )
    working_hours = bool(result.values.get(name["working_hours"]))
    if severity == Severity.urgent.value and working_hours:
        # A weekend pause would hold a Friday-evening urgent alert until Monday.
        result.error(
            name["working_hours"],
            i18n.gettext("Urgent alerts count every day, weekends included: someone may be at risk now."),
        )
    lead_after = _whole_minutes(result, name["lead_after"], LEAD_MINUTES, None)
    action_within = _whole_minutes(
        result,
        name["action_within"],
        ACTION_MINUTES,
        i18n.gettext("Enter how many minutes probation have to record what they did."),
    )
    duty_inbox = _optional_email(result, name["duty_inbox"])
    programme_lead = _optional_email(result, name["programme_lead"])
    # A lead step needs both halves; one without the other would quietly never happen.
    if lead_after is not None and not programme_lead and name["programme_lead"] not in result.errors:
        result.error(
            name["programme_lead"],
            i18n.gettext("Enter the programme lead's email address, or leave the minutes before they are told empty."),
        )
    if programme_lead and not result.values.get(name["lead_after"], "").strip():
        result.error(
            name["lead_after"],
            i18n.gettext(
                "Enter after how many minutes the programme lead is told, or leave their email address empty."
            ),
        )
    return {
        "acknowledge_within_minutes": acknowledge,
        "lead_after_minutes": lead_after,
        "action_within_minutes": action_within,
        "working_hours_only": working_hours,
        "duty_inbox": duty_inbox,
        "programme_lead": programme_lead,
    }


async def save_policy(*, by: Any, severity: str, columns: dict[str, Any]) -> None:
    """Create or replace the severity's policy; audited with what it was before."""
    async with write_transaction():
        before = (
            await EscalationPolicy.select(*(getattr(EscalationPolicy, c) for c in columns))
            .where(EscalationPolicy.severity == severity)
            .first()
        )
        await EscalationPolicy.insert(EscalationPolicy(severity=severity, **columns)).on_conflict(
            target=EscalationPolicy.severity,
            action="DO UPDATE",
            values=[getattr(EscalationPolicy, c) for c in columns],
        )
        await audit.record(
            SAVED,
            actor=by,
            object_type="escalation_policy",
            object_id=severity,
            detail={"before": before, "after": columns},
        )


class EscalationPolicyController(Controller):
    path = "/admin/escalation-policy"
    guards = [admin_only]

    @get("/", name="circles:escalation_policy")
    async def page(self, request: Req) -> Response[Any]:
        return await self._page(request)

    @post("/{severity:str}", name="circles:escalation_policy_save")
    async def save(self, request: Req, severity: FromPath[str]) -> Response[Any]:
        if severity not in SEVERITIES:
            await found_or_deny(request, None, "escalation_policy", severity)
        result = FormResult(await read_form(request))
        columns = check_policy(severity, result)
        if not result.ok:
            return await self._page(request, severity=severity, result=result, status_code=400)
        await save_policy(by=request.scope["user"], severity=severity, columns=columns)
        flash(
            request,
            "success",
            saved_messages()[severity]
            + " "
            + i18n.gettext("Alerts already sent keep their first deadline; every later step follows the new policy."),
        )
        return Redirect(path=request.app.route_reverse("circles:escalation_policy"), status_code=303)

    async def _page(
        self, request: Req, *, severity: str = "", result: FormResult | None = None, status_code: int = 200
    ) -> Response[Any]:
        saved = {row["severity"] for row in await EscalationPolicy.select(EscalationPolicy.severity)}
        values: dict[str, str] = {}
        forms = []
        for each in SEVERITIES:
            policy = await policy_for(each)
            values.update(policy_values(policy))
            forms.append(
                {
                    "severity": each,
                    "heading": headings()[each],
                    "saved": each in saved,
                    "acknowledge_minutes": int(policy.acknowledge_within.total_seconds() // 60),
                    "lead_minutes": _minutes(policy.lead_after) if policy.programme_lead else "",
                    "action_minutes": int(policy.action_within.total_seconds() // 60),
                    **asdict(policy),
                }
            )
        if result is not None:
            # The form that was sent keeps what was typed; the other shows what is saved.
            values.update({field_name(severity, f): result.values.get(field_name(severity, f), "") for f in FIELDS})
        return render(
            request,
            "circles/escalation_policy.html",
            {
                "forms": forms,
                "values": values,
                "errors": result.errors if result is not None else {},
                "limits": {
                    "acknowledge": ACKNOWLEDGE_MINUTES,
                    "urgent_acknowledge_max": URGENT_ACKNOWLEDGE_MAX,
                    "lead": LEAD_MINUTES,
                    "action": ACTION_MINUTES,
                },
            },
            status_code=status_code,
        )
