"""The admin's search of the audit trail: by person, object, action and dates (London days), newest first.

The search form is POSTed so that an email address typed into it never reaches a URL (SECURITY.md 15): the
handler resolves it to the person's account and redirects to a plain GET page whose query names the account
by its public id. Every result page is a bookmarkable GET, paged with a keyset cursor so that page 200 costs
what page 1 does; the page runs the same handful of queries whatever it shows.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cache, reduce
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.response import Redirect
from piccolo.columns.combination import And, Or, Where

from cosa import audit, i18n
from cosa.auth import admin_only
from cosa.forms import EMAIL_PATTERN, FormResult, check_date, clean_email, read_form
from cosa.i18n import LONDON
from cosa.tables import STAFF_ROLES, AuditEvent, User
from cosa.users import role_labels
from cosa.web import render

Req = Request[Any, Any, Any]
PAGE_SIZE = 50
COUNT_CAP = 10_000  # beyond this the page says "more than 10,000": counting millions of rows buys nothing
FILTER_FIELDS = ("email", "object_type", "object_id", "action", "date_from", "date_to")
ACTION_PATTERN = re.compile(r"^[a-z_]{1,30}\.[a-z_]{1,40}$")
OBJECT_TYPE_PATTERN = re.compile(r"^[a-z_]{1,40}$")
OBJECT_ID_MAX = 64
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def object_type_labels() -> dict[str, str]:
    """The kinds of object audit rows name, with a label each (a code not listed here still filters)."""
    return {
        "core_member": i18n.gettext("Core member"),
        "case_note": i18n.gettext("Case note"),
        "risk_connection": i18n.gettext("Risk connection"),
        "circle": i18n.gettext("Circle"),
        "circle_membership": i18n.gettext("Circle membership"),
        "outer_member": i18n.gettext("Outer circle member"),
        "meeting": i18n.gettext("Meeting"),
        "meeting_minutes": i18n.gettext("Meeting minutes"),
        "check_in": i18n.gettext("Check-in"),
        "concern": i18n.gettext("Concern"),
        "escalation": i18n.gettext("Escalation"),
        "escalation_policy": i18n.gettext("Escalation policy"),
        "indicator": i18n.gettext("Check-in indicator"),
        "calendar_feed": i18n.gettext("Calendar feed"),
        "volunteer": i18n.gettext("Volunteer"),
        "user": i18n.gettext("User account"),
        "region": i18n.gettext("Region"),
        "retention_setting": i18n.gettext("Retention period"),
        "retention": i18n.gettext("Retention run"),
        "route": i18n.gettext("Page"),
    }


@cache
def known_actions() -> tuple[str, ...]:
    """Every action code the application records, for the action filter. Each feature keeps its codes beside
    its code; tests/integration/cosa/test_audit_pages.py fails when one is missing here."""
    from circles import calendar, check_ins, concerns, escalation_pages, indicators, meeting_services, policy_pages
    from volunteers import services as volunteer_services

    holders: list[Any] = [
        audit.Action,
        concerns.ConcernAction,
        meeting_services.MeetingAction,
        calendar.CalendarAction,
        volunteer_services.VolunteerAction,
    ]
    codes = {value for holder in holders for name, value in vars(holder).items() if name.isupper()}
    codes |= {
        indicators.INDICATOR_ADDED,
        indicators.INDICATOR_CHANGED,
        escalation_pages.VIEWED,
        policy_pages.SAVED,
        check_ins.LOGGED,
    }
    return tuple(sorted(code for code in codes if isinstance(code, str) and ACTION_PATTERN.match(code)))


# --- the filters -----------------------------------------------------------------------------------------


@dataclass
class Filters:
    person: dict[str, Any] | None = None  # id, public_id, email, display_name, role
    object_type: str = ""
    object_id: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None
    values: dict[str, str] = field(default_factory=dict)  # what the form shows

    def keys(self) -> list[str]:
        """Which filters are in use (recorded when the trail is viewed; never their values)."""
        used = {
            "user": self.person is not None,
            "object_type": bool(self.object_type),
            "object_id": bool(self.object_id),
            "action": bool(self.action),
            "date_from": self.date_from is not None,
            "date_to": self.date_to is not None,
        }
        return [key for key, on in used.items() if on]

    def query(self) -> dict[str, str]:
        """The filters as URL query parameters: the account's public id, never an email address."""
        params = {
            "user": str(self.person["public_id"]) if self.person else "",
            "object_type": self.object_type,
            "object_id": self.object_id,
            "action": self.action,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        return {key: value for key, value in params.items() if value}

    def where(self) -> list[Where | And | Or]:
        conditions: list[Where | And | Or] = []
        if self.person is not None:
            conditions.append(AuditEvent.actor == self.person["id"])
        if self.object_type:
            conditions.append(AuditEvent.object_type == self.object_type)
        if self.object_id:
            conditions.append(AuditEvent.object_id == self.object_id)
        if self.action:
            conditions.append(AuditEvent.action == self.action)
        if self.date_from is not None:
            conditions.append(AuditEvent.occurred_at >= london_midnight(self.date_from))
        if self.date_to is not None and self.date_to < date.max:
            conditions.append(AuditEvent.occurred_at < london_midnight(self.date_to + timedelta(days=1)))
        return conditions


def london_midnight(day: date) -> datetime:
    """The instant a day begins in London, in UTC (23:00 or 00:00 the day before, with summer time)."""
    return datetime.combine(day, time(), tzinfo=LONDON).astimezone(UTC)


def _normalise_object_id(raw: str) -> str:
    text = raw.strip()
    try:
        return str(UUID(text))  # public ids are stored in their canonical lower-case form
    except ValueError:
        return text


async def read_filters(values: dict[str, str], person_param: str | None) -> tuple[FormResult, Filters]:
    """Check the filters from the form (an email typed) or from the URL (an account's public id).
    Errors are keyed by the form's field names, so they show beside the field that caused them."""
    result = FormResult({name: values.get(name, "") for name in FILTER_FIELDS})
    filters = Filters(values=result.values)

    if person_param is not None:
        person = None
        try:
            public_id = UUID(person_param)
        except ValueError:
            public_id = None
        if public_id is not None:
            person = await _people().where(User.public_id == public_id).first()
        if person is None:
            result.error("email", i18n.gettext("That account could not be found. Type the person's email address."))
        else:
            filters.person = person
            result.values["email"] = person["email"]
    else:
        email = clean_email(result.values["email"])
        if email and (len(email) > 254 or not EMAIL_PATTERN.match(email)):
            result.error("email", i18n.gettext("Enter an email address in the right format, like name@example.org."))
        elif email:
            filters.person = await _people().where(User.email == email).first()
            if filters.person is None:
                result.error(
                    "email",
                    i18n.gettext("No account has this email address. Check it, or leave it empty to search everyone."),
                )

    object_type = result.values["object_type"].strip()
    if object_type and not OBJECT_TYPE_PATTERN.match(object_type):
        result.error("object_type", i18n.gettext("Choose a kind of record from the list."))
    else:
        filters.object_type = object_type

    object_id = _normalise_object_id(result.values["object_id"])
    if len(object_id) > OBJECT_ID_MAX or any(ch.isspace() or not ch.isprintable() for ch in object_id):
        result.error(
            "object_id",
            i18n.gettext(
                "Enter the record's identifier, %(max)s characters or fewer, without spaces.", max=OBJECT_ID_MAX
            ),
        )
    else:
        filters.object_id = object_id
        result.values["object_id"] = object_id

    action = result.values["action"].strip()
    if action and not ACTION_PATTERN.match(action):
        result.error("action", i18n.gettext("Choose an action from the list."))
    else:
        filters.action = action

    filters.date_from = check_date(result, "date_from")
    filters.date_to = check_date(result, "date_to")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        result.error("date_to", i18n.gettext("The end date must be the same as or after the start date."))
    return result, filters


def _people() -> Any:
    return User.select(User.id, User.public_id, User.email, User.display_name, User.role)


# --- paging ----------------------------------------------------------------------------------------------
# Rows are ordered by (occurred_at, seq), newest first. A cursor names the row a page starts after, as its
# time in microseconds since 1970 and its place in the chain: "1790000000000000.812".


def encode_cursor(row: dict[str, Any]) -> str:
    return f"{(row['occurred_at'] - EPOCH) // timedelta(microseconds=1)}.{row['seq']}"


def decode_cursor(raw: str | None) -> tuple[datetime, int] | None:
    """A cursor from the URL, or None when absent or not one of ours (the page then starts at the newest)."""
    if not raw or len(raw) > 40:
        return None
    micros, _dot, seq = raw.partition(".")
    if not (micros.lstrip("-").isdigit() and seq.isdigit()):
        return None
    try:
        return EPOCH + timedelta(microseconds=int(micros)), int(seq)
    except OverflowError:
        return None


def _beyond(cursor: tuple[datetime, int], older: bool) -> And:
    at, seq = cursor
    # The first condition is implied by the second; it lets the database walk the occurred_at index from there.
    if older:
        return (AuditEvent.occurred_at <= at) & (
            (AuditEvent.occurred_at < at) | ((AuditEvent.occurred_at == at) & (AuditEvent.seq < seq))
        )
    return (AuditEvent.occurred_at >= at) & (
        (AuditEvent.occurred_at > at) | ((AuditEvent.occurred_at == at) & (AuditEvent.seq > seq))
    )


@dataclass
class Page:
    rows: list[dict[str, Any]]
    total: int  # capped at COUNT_CAP + 1
    newer: str | None  # the cursor for the page of newer events, if there is one
    older: str | None


async def search(filters: Filters, *, before: str | None, after: str | None) -> Page:
    """One page of events matching the filters: two queries (the count and the rows, with who did each)."""
    conditions = filters.where()
    matching = AuditEvent.select(AuditEvent.id)
    if conditions:
        matching = matching.where(reduce(lambda a, b: a & b, conditions))
    counted = await AuditEvent.raw(
        "SELECT COUNT(*) AS n FROM ({}) AS capped", matching.limit(COUNT_CAP + 1).querystrings[0]
    )

    after_cursor = decode_cursor(after) if not before else None
    before_cursor = decode_cursor(before)
    going_newer = after_cursor is not None
    cursor = after_cursor or before_cursor
    if cursor is not None:
        conditions = [*conditions, _beyond(cursor, older=not going_newer)]
    query = AuditEvent.select(
        AuditEvent.seq,
        AuditEvent.occurred_at,
        AuditEvent.actor,
        AuditEvent.actor_role,
        AuditEvent.action,
        AuditEvent.object_type,
        AuditEvent.object_id,
        AuditEvent.detail,
        AuditEvent.actor.display_name.as_alias("actor_name"),
        AuditEvent.actor.public_id.as_alias("actor_public_id"),
    )
    if conditions:
        query = query.where(reduce(lambda a, b: a & b, conditions))
    rows = (
        await query.order_by(AuditEvent.occurred_at, AuditEvent.seq, ascending=going_newer)
        .limit(PAGE_SIZE + 1)
        .output(load_json=True)
    )
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    if going_newer:
        rows.reverse()
    if not rows:
        return Page(rows, counted[0]["n"], None, None)
    has_newer = more if going_newer else cursor is not None
    has_older = True if going_newer else more
    return Page(
        rows,
        counted[0]["n"],
        newer=encode_cursor(rows[0]) if has_newer else None,
        older=encode_cursor(rows[-1]) if has_older else None,
    )


# --- showing rows ----------------------------------------------------------------------------------------


def who(row: dict[str, Any]) -> str:
    if row["actor"] is not None:
        role = role_labels().get(row["actor_role"], row["actor_role"])
        return f"{row['actor_name']} ({role})" if role else str(row["actor_name"])
    # No account: someone not signed in (a failed sign-in) or the application itself (a scheduled job, a command).
    if row["action"].startswith(("auth.", "access.")):
        return i18n.gettext("Anonymous (not signed in)")
    return i18n.gettext("System")


def detail_items(detail: Any) -> list[tuple[str, str]]:
    if not isinstance(detail, dict):
        return [("", json.dumps(detail, ensure_ascii=False))] if detail else []
    return [
        (str(key), value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True))
        for key, value in sorted(detail.items())
    ]


def _present(row: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    return {
        **row,
        "who": who(row),
        "object_label": types.get(row["object_type"], row["object_type"]),
        "detail_items": detail_items(row["detail"]),
        "iso": row["occurred_at"].astimezone(UTC).isoformat(),
    }


# --- the page --------------------------------------------------------------------------------------------


class AuditController(Controller):
    path = "/admin/audit"
    guards = [admin_only]

    @get("/", name="admin:audit")
    async def page(self, request: Req) -> Response[Any]:
        params = request.query_params
        # The person comes as an account's public id; an email address in a URL is ignored, not looked up.
        values = {name: params.get(name, "") for name in FILTER_FIELDS if name != "email"}
        result, filters = await read_filters(values, params.get("user") or None)
        if not result.ok:
            return await self._render(request, result, filters, None, status_code=400)
        page = await search(filters, before=params.get("before"), after=params.get("after"))
        # Looking at the trail is itself in the trail: which filters were used, never what they held.
        await audit.record(
            audit.Action.AUDIT_VIEWED,
            actor=request.scope["user"],
            detail={
                "filters": filters.keys(),
                "page": "later" if params.get("before") or params.get("after") else "first",
            },
        )
        return await self._render(request, result, filters, page)

    @post("/", name="admin:audit_search")
    async def submit(self, request: Req) -> Response[Any]:
        result, filters = await read_filters(await read_form(request), None)
        if not result.ok:
            return await self._render(request, result, filters, None, status_code=400)
        target = request.app.route_reverse("admin:audit")
        query = filters.query()
        return Redirect(path=target + ("?" + urlencode(query) if query else ""), status_code=303)

    async def _render(
        self, request: Req, result: FormResult, filters: Filters, page: Page | None, status_code: int = 200
    ) -> Response[Any]:
        paged = bool(
            request.method == "GET" and (request.query_params.get("before") or request.query_params.get("after"))
        )
        types = object_type_labels()
        actions = {code: code for code in known_actions()}
        if filters.object_type and filters.object_type not in types:
            types[filters.object_type] = filters.object_type
        if filters.action and filters.action not in actions:
            actions[filters.action] = filters.action
        base = request.app.route_reverse("admin:audit")
        query = filters.query()

        def link(**extra: str) -> str:
            params = {**query, **extra}
            return base + ("?" + urlencode(params) if params else "")

        staff = (
            await User.select(User.email, User.display_name, User.role)
            .where(User.role.is_in([role.value for role in STAFF_ROLES]))
            .order_by(User.display_name)
        )
        return render(
            request,
            "admin/audit.html",
            {
                "values": result.values,
                "errors": result.errors,
                "object_types": types,
                "actions": actions,
                "staff": staff,
                "roles": role_labels(),
                "page": page,
                "rows": [_present(row, types) for row in page.rows] if page else [],
                "filtered": bool(query),
                "newer_url": link(after=page.newer) if page and page.newer else None,
                "older_url": link(before=page.older) if page and page.older else None,
                "newest_url": link() if page and (page.newer or paged) else None,
                "person_url": lambda public_id: base + "?" + urlencode({"user": str(public_id)}),
                "object_url": lambda kind, object_id: (
                    base + "?" + urlencode({"object_type": kind, "object_id": object_id})
                ),
                "count_cap": COUNT_CAP,
                "page_size": PAGE_SIZE,
            },
            status_code=status_code,
        )
