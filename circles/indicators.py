"""Check-in indicators: the built-in catalogue, which ones each core member's cohort shows, and the
coordinator's page that switches them on and off, chooses which raise a concern, and adds new ones.

Built-in indicators live here, in code, so their labels and explanations are translated; the table holds
only what a coordinator may change (active, raises_concern) and the indicators coordinators add, whose
labels are shown as typed. Stored check-ins keep the codes they ticked, so a built-in definition is never
removed from `BUILT_IN`, only switched off.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from circles.tables import Cohort, Indicator, IndicatorGroup
from cosa import audit, i18n
from cosa.auth import found_or_deny, roles
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.forms import FormResult, check_choice, check_text, read_form
from cosa.i18n import lazy_gettext
from cosa.tables import Role
from cosa.web import flash, render

Req = Request[Any, Any, Any]

# Audit actions (object_type "indicator", object_id the code).
INDICATOR_ADDED = "indicator.added"
INDICATOR_CHANGED = "indicator.changed"

LABEL_MAX = 200
EXPLANATION_MAX = 400

# The order groups are shown in, on the check-in form and on the coordinator's page.
GROUP_ORDER: tuple[str, ...] = (
    IndicatorGroup.exploitation.value,
    IndicatorGroup.accountability.value,
    IndicatorGroup.wellbeing.value,
)


@dataclass(frozen=True)
class BuiltIn:
    code: str  # lower case with underscores; codes coordinators add always contain a hyphen
    group: str
    label: str  # English, marked for extraction; translated where shown
    explanation: str
    raises_concern: bool = False


_E, _A, _W = GROUP_ORDER

BUILT_IN: tuple[BuiltIn, ...] = (
    # Risk of being exploited again: survivors, and core members in both groups.
    BuiltIn(
        "exploiter_contact",
        _E,
        lazy_gettext("Contact with people linked to past exploitation"),
        lazy_gettext("They have seen, called or messaged someone connected with how they were exploited before."),
        raises_concern=True,
    ),
    BuiltIn(
        "unexplained_money",
        _E,
        lazy_gettext("Unexplained money, gifts or new phones"),
        lazy_gettext("They have money, presents or phones and cannot or will not say where they came from."),
    ),
    BuiltIn(
        "new_people_at_address",
        _E,
        lazy_gettext("New or unknown people staying at their address (cuckooing)"),
        lazy_gettext("Someone new is living in or using their home, which can mean others are taking it over."),
        raises_concern=True,
    ),
    BuiltIn(
        "went_missing",
        _E,
        lazy_gettext("Went missing or travelled out of area unexpectedly"),
        lazy_gettext("Nobody could reach them for a time, or they went far away without a clear reason."),
        raises_concern=True,
    ),
    BuiltIn(
        "debt_pressure",
        _E,
        lazy_gettext("Debt or pressure to repay (including debts from prison)"),
        lazy_gettext("They owe money, perhaps from their time in prison, and someone is pushing them to pay it back."),
    ),
    BuiltIn(
        "carrying_for_others",
        _E,
        lazy_gettext("Asked to carry or hold things for others"),
        lazy_gettext("Someone has asked them to carry, keep or pass on parcels, money or other things."),
    ),
    BuiltIn(
        "physical_harm",
        _E,
        lazy_gettext("Signs of physical harm"),
        lazy_gettext("You noticed injuries, or they told you that someone has hurt them."),
        raises_concern=True,
    ),
    BuiltIn(
        "documents_held",
        _E,
        lazy_gettext("Documents or bank cards held by someone else"),
        lazy_gettext("Someone else is keeping their passport, ID, bank card or other papers."),
    ),
    # Accountability: convicted of an MSHT offence, and core members in both groups.
    BuiltIn(
        "order_breach",
        _A,
        lazy_gettext("Possible breach of order conditions"),
        lazy_gettext(
            "They may be doing something their order or licence forbids, such as prohibited work, travel or contact."
        ),
        raises_concern=True,
    ),
    BuiltIn(
        "arranging_for_others",
        _A,
        lazy_gettext("Arranging work, travel or housing for other people"),
        lazy_gettext("They are organising jobs, journeys or places to live for someone else."),
    ),
    BuiltIn(
        "holding_others_documents",
        _A,
        lazy_gettext("Holding other people's documents, wages or bank cards"),
        lazy_gettext("They have someone else's passport, ID, pay or bank card."),
    ),
    BuiltIn(
        "former_victim_contact",
        _A,
        lazy_gettext("Contact with former victims"),
        lazy_gettext("They have been in touch with, or tried to reach, people harmed by their offence."),
        raises_concern=True,
    ),
    BuiltIn(
        "recruiting_controlling",
        _A,
        lazy_gettext("Recruiting or controlling others"),
        lazy_gettext("They seem to be drawing people in, or telling others where to work, live or go."),
        raises_concern=True,
    ),
    BuiltIn(
        "unexplained_income",
        _A,
        lazy_gettext("Unexplained income"),
        lazy_gettext("They have money or spending that their known work or benefits do not explain."),
    ),
    # Wellbeing and needs: everyone.
    BuiltIn(
        "substance_relapse",
        _W,
        lazy_gettext("Substance use relapse"),
        lazy_gettext("They have started using drugs or alcohol again, or are using more."),
    ),
    BuiltIn(
        "housing_at_risk",
        _W,
        lazy_gettext("Housing at risk"),
        lazy_gettext("They may lose where they live, for example through arrears, eviction or a placement ending."),
    ),
    BuiltIn(
        "isolation",
        _W,
        lazy_gettext("Isolation"),
        lazy_gettext("They see almost nobody apart from the circle, or are cutting themselves off."),
    ),
    BuiltIn(
        "mental_health_crisis",
        _W,
        lazy_gettext("Mental health crisis"),
        lazy_gettext("They are very distressed, not coping day to day, or talking about harming themselves."),
    ),
    BuiltIn(
        "lost_work",
        _W,
        lazy_gettext("Lost job or training place"),
        lazy_gettext("They have lost their work, a course or an apprenticeship."),
    ),
)
BUILT_IN_BY_CODE: dict[str, BuiltIn] = {b.code: b for b in BUILT_IN}


def groups_for(cohort: str) -> tuple[str, ...]:
    """The indicator groups a core member of this cohort is checked for; wellbeing for everyone."""
    if cohort == Cohort.survivor:
        return (_E, _W)
    if cohort == Cohort.convicted:
        return (_A, _W)
    if cohort == Cohort.both:
        return GROUP_ORDER
    return (_W,)


def group_labels() -> dict[str, str]:
    return {
        _E: i18n.gettext("Risk of being exploited again"),
        _A: i18n.gettext("Accountability"),
        _W: i18n.gettext("Wellbeing and needs"),
    }


def group_audiences() -> dict[str, str]:
    return {
        _E: i18n.gettext("Shown on check-ins for survivors, and for core members who are both."),
        _A: i18n.gettext("Shown on check-ins for core members convicted of an offence, and for those who are both."),
        _W: i18n.gettext("Shown on check-ins for every core member."),
    }


# --- reading -----------------------------------------------------------------------------------------


def _label(row: dict[str, Any]) -> str:
    """Built-in labels in the reader's language; a coordinator's own as typed."""
    definition = BUILT_IN_BY_CODE.get(row["code"]) if row["built_in"] else None
    return i18n.gettext(definition.label) if definition else row["label"] or row["code"]


def _explanation(row: dict[str, Any]) -> str:
    definition = BUILT_IN_BY_CODE.get(row["code"]) if row["built_in"] else None
    return i18n.gettext(definition.explanation) if definition else row["explanation"]


def _in_group_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Rows arrive ordered by position; a stable sort puts the groups in their reading order.
    rank = {group: i for i, group in enumerate(GROUP_ORDER)}
    return sorted(rows, key=lambda row: rank.get(row["group"], len(rank)))


_COLUMNS = (
    Indicator.code,
    Indicator.group,
    Indicator.label,
    Indicator.explanation,
    Indicator.built_in,
    Indicator.active,
    Indicator.raises_concern,
)


async def indicators_for(cohort: str) -> list[dict[str, Any]]:
    """The active indicators for a core member of this cohort, in the order a check-in shows them (one query)."""
    rows = (
        await Indicator.select(*_COLUMNS)
        .where(Indicator.group.is_in(list(groups_for(cohort))), Indicator.active.eq(True))
        .order_by(Indicator.position, Indicator.id)
    )
    return [
        {
            "code": row["code"],
            "group": row["group"],
            "label": _label(row),
            "explanation": _explanation(row),
            "raises_concern": row["raises_concern"],
        }
        for row in _in_group_order(rows)
    ]


async def labels_for(codes: list[str]) -> dict[str, str]:
    """Labels for the codes a stored check-in ticked, switched off since or not (at most one query).

    Built-in labels come from the code; only indicators coordinators added are looked up. A code known to
    neither (which the app never stores) is shown as itself rather than hidden."""
    wanted = list(dict.fromkeys(codes))
    labels = {code: i18n.gettext(BUILT_IN_BY_CODE[code].label) for code in wanted if code in BUILT_IN_BY_CODE}
    others = [code for code in wanted if code not in labels]
    if others:
        rows = await Indicator.select(Indicator.code, Indicator.label).where(Indicator.code.is_in(others))
        labels.update({row["code"]: row["label"] or row["code"] for row in rows})
    return {code: labels.get(code, code) for code in wanted}


async def catalogue() -> list[dict[str, Any]]:
    """Every indicator, switched on or off, for the coordinator's page: one entry per group (one query)."""
    rows = await Indicator.select(*_COLUMNS).order_by(Indicator.position, Indicator.id)
    entries = [{**row, "label": _label(row), "explanation": _explanation(row)} for row in rows]
    labels, audiences = group_labels(), group_audiences()
    return [
        {
            "group": group,
            "label": labels[group],
            "audience": audiences[group],
            "indicators": [entry for entry in entries if entry["group"] == group],
        }
        for group in GROUP_ORDER
    ]


# --- writing -----------------------------------------------------------------------------------------


async def ensure_built_in() -> int:
    """Add any built-in indicator the table lacks; returns how many were added.

    Idempotent and safe with several processes starting at once: rows that exist (perhaps switched off, or
    set to raise a concern, by a coordinator) are left exactly as they are."""
    rows = [
        Indicator(
            code=b.code,
            group=b.group,
            label="",  # built-in labels come from the code, translated
            explanation="",
            built_in=True,
            active=True,
            raises_concern=b.raises_concern,
            position=10 * (i + 1),
        )
        for i, b in enumerate(BUILT_IN)
    ]
    added = await (
        Indicator.insert(*rows).on_conflict(action="DO NOTHING", target=Indicator.code).returning(Indicator.code)
    )
    return len(added)


def new_code(label: str) -> str:
    """A code for an indicator a coordinator adds: a slug of its label and a random suffix.

    Always has a hyphen, which no built-in code has, so the two can never collide."""
    ascii_text = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:40].rstrip("-") or "indicator"
    return f"{slug}-{secrets.token_hex(3)}"


async def add_indicator(
    *, by: Any, group: str, label: str, explanation: str, raises_concern: bool, now: datetime
) -> str:
    """Add a coordinator's own indicator at the end of its group; returns its code."""
    code = new_code(label)
    async with write_transaction():
        last = (
            await Indicator.select(Indicator.position)
            .where(Indicator.group == group)
            .order_by(Indicator.position, ascending=False)
            .first()
        )
        await Indicator.insert(
            Indicator(
                code=code,
                group=group,
                label=label,
                explanation=explanation,
                built_in=False,
                active=True,
                raises_concern=raises_concern,
                position=(last["position"] if last else 0) + 10,
            )
        )
        await audit.record(
            INDICATOR_ADDED,
            actor=by,
            object_type="indicator",
            object_id=code,
            detail={"group": group, "raises_concern": raises_concern},
            now=now,
        )
    return code


# The two switches a coordinator has on each indicator: form field -> column.
SWITCHES = {"active": Indicator.active, "concern": Indicator.raises_concern}


async def set_switch(*, by: Any, code: str, switch: str, value: bool, now: datetime) -> bool:
    """Turn one switch of an indicator on or off; returns whether anything changed (audited if so)."""
    column = SWITCHES[switch]
    async with write_transaction():
        changed = await (
            Indicator.update({column: value}).where(Indicator.code == code, column != value).returning(Indicator.code)
        )
        if changed:
            await audit.record(
                INDICATOR_CHANGED,
                actor=by,
                object_type="indicator",
                object_id=code,
                detail={column._meta.name: value},
                now=now,
            )
    return bool(changed)


# --- the coordinator's page --------------------------------------------------------------------------


def check_new_indicator(result: FormResult, existing: list[dict[str, Any]]) -> dict[str, Any]:
    group = check_choice(result, "group", group_labels(), i18n.gettext("Choose which group the indicator is in."))
    label = check_text(
        result,
        "label",
        required_message=i18n.gettext("Enter the indicator, as volunteers will see it."),
        max_length=LABEL_MAX,
    )
    explanation = check_text(
        result,
        "explanation",
        required_message=i18n.gettext("Explain in a sentence what volunteers should look out for."),
        max_length=EXPLANATION_MAX,
    )
    taken = {
        entry["label"].casefold() for block in existing if block["group"] == group for entry in block["indicators"]
    }
    if label and label.casefold() in taken:
        result.error("label", i18n.gettext("This group already has an indicator with this name."))
    return {
        "group": group,
        "label": label,
        "explanation": explanation,
        "raises_concern": result.values.get("raises_concern") == "yes",
    }


def _is_fragment(request: Req) -> bool:
    return bool(request.headers.get("hx-request")) and not request.headers.get("hx-boosted")


class IndicatorController(Controller):
    path = "/indicators"
    guards = [roles(Role.coordinator)]

    async def _page(self, request: Req, *, status_code: int = 200, block: str | None = None, **extra: Any) -> Any:
        context = {"groups": await catalogue(), "group_labels": group_labels(), **extra}
        return render(request, "circles/indicators.html", context, status_code=status_code, block=block)

    @get("/", name="circles:indicators")
    async def page(self, request: Req) -> Response[Any]:
        return await self._page(request, values={"group": ""})

    @post("/", name="circles:indicator_add")
    async def add(self, request: Req) -> Response[Any]:
        result = FormResult(await read_form(request))
        groups = await catalogue()
        fields = check_new_indicator(result, groups)
        if not result.ok:
            return await self._page(request, status_code=400, values=result.values, errors=result.errors)
        code = await add_indicator(by=request.scope["user"], now=utcnow(), **fields)
        flash(
            request,
            "success",
            i18n.gettext("The indicator is added. Volunteers will see it on their next check-in."),
        )
        return Redirect(path=request.app.route_reverse("circles:indicators") + f"#indicator-{code}", status_code=303)

    @post("/{code:str}/active", name="circles:indicator_active")
    async def switch_active(self, request: Req, code: FromPath[str]) -> Response[Any]:
        return await self._switch(request, code, "active")

    @post("/{code:str}/concern", name="circles:indicator_concern")
    async def switch_concern(self, request: Req, code: FromPath[str]) -> Response[Any]:
        return await self._switch(request, code, "concern")

    async def _switch(self, request: Req, code: str, switch: str) -> Response[Any]:
        code = code[:60]
        # A code with a NUL cannot exist, and PostgreSQL refuses the comparison rather than finding nothing.
        row = None if "\x00" in code else await Indicator.select(*_COLUMNS).where(Indicator.code == code).first()
        row = await found_or_deny(request, row, "indicator", code[:60])
        current = bool(row["active"] if switch == "active" else row["raises_concern"])
        # The button says which way it switches, so a form sent twice (a retry on a poor connection)
        # does not switch it back; without that, it toggles.
        wanted = (await read_form(request)).get("to", "")
        value = {"on": True, "off": False}.get(wanted, not current)
        await set_switch(by=request.scope["user"], code=row["code"], switch=switch, value=value, now=utcnow())
        message = _switch_message(_label(row), switch, value)
        if _is_fragment(request):
            return await self._page(request, block="indicators", indicator_message=message)
        flash(request, "success", message)
        return Redirect(
            path=request.app.route_reverse("circles:indicators") + f"#indicator-{row['code']}", status_code=303
        )


def _switch_message(label: str, switch: str, value: bool) -> str:
    if switch == "active":
        if value:
            return i18n.gettext("“%(indicator)s” is switched on for new check-ins.", indicator=label)
        return i18n.gettext("“%(indicator)s” is switched off for new check-ins.", indicator=label)
    if value:
        return i18n.gettext("“%(indicator)s” now raises a concern when a volunteer ticks it.", indicator=label)
    return i18n.gettext("“%(indicator)s” no longer raises a concern by itself.", indicator=label)
