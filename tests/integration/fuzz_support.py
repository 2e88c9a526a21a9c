"""Shared machinery for the fuzzing and no-leak tests: the route table, a seeded world, signed-in browsers
for every role, page parsing and the checks every response must pass.

Routes come from the app's own route table, so a new route is fuzzed without anyone listing it. Path
parameters get the public ids of seeded rows (chosen by matching the URL's nouns to table names), values
found in the pages that link to the route, and garbage.
"""

from __future__ import annotations

import itertools
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from litestar import Litestar
from litestar.testing import AsyncTestClient
from markupsafe import escape
from piccolo.conf.apps import Finder

from circles import concerns
from circles.tables import (
    CaseNote,
    CheckIn,
    Circle,
    CoreMember,
    Escalation,
    Indicator,
    Meeting,
    NeedChange,
    OuterCircleMember,
    RiskConnection,
)
from cosa.app import create_app
from cosa.auth import hash_password
from cosa.clock import utcnow
from cosa.db import write_transaction
from cosa.i18n import LONDON
from cosa.settings import load_settings
from cosa.tables import User
from cosa.users import issue_invitation_token
from tests.integration.circles.conftest import make_circle, make_core_member, make_volunteer, seat
from tests.integration.conftest import PASSWORD, csrf_token, enrol_second_factor, form_post, login, session_cookie
from volunteers.tables import SupervisionSession, Volunteer

# --- hostile values ----------------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SVG = "'><svg onload=alert(1)>"
TEMPLATE = "{{7*7}}"
# Template syntax whose evaluation would leave a mark no page contains by chance.
EVALUATED = "9801547"
TEMPLATE_PROBES = ("{{1337*7331}}", "${1337*7331}", "#{1337*7331}", "{%print(1337*7331)%}", "{{'fz'~'qx'}}")
EVALUATED_CONCAT = "fzqx"
EVALUATED_SEVEN = str(escape(IMG)) + "49"

MARKUP = (
    SCRIPT,
    IMG,
    SVG,
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "<a href=javascript:alert(1)>x</a>",
    '" hx-get="/logout" hx-trigger="load',
    "javascript:alert(1)",
)
TEMPLATE_SYNTAX = (
    TEMPLATE,
    *TEMPLATE_PROBES,
    "{% raw %}",
    "{% endraw %}{{ config }}",
    "{{ self.__init__.__globals__ }}",
    "{% for x in range(99999999) %}{% endfor %}",
    "%(name)s %s %d %n {0} {}",
)
CONTROL = (
    "\x00",
    "a\x00b",
    "\x01\x02\x1b[31m\x7f",
    "line\r\nSet-Cookie: planted=1",
    "\t\v\f",
    "\u202eevil\u202c",
    "\ufeff\u200b\u2028\u2029",
)
UNICODE = (
    "🙂" * 40,
    "𝕳𝖊𝖑𝖑𝖔 Ωmega ∑",
    "e\u0301" * 60,
    "مرحبا بالعالم",
    "日本語のテキスト",
    "Zɑ̴̛͔l̶g̷o̵",
    "ß" * 300,
)
WRONG_TYPES = (
    "",
    " ",
    "-1",
    "0",
    "99999999999999999999999999",
    "1e309",
    "NaN",
    "-inf",
    "3.5",
    "0x10",
    "2026-02-30",
    "2026-13-01",
    "0001-01-01",
    "9999-12-31T23:59",
    "27/03/2026",
    "25:61",
    "24:00",
    "true",
    "null",
    "[]",
    "{}",
    "00000000-0000-0000-0000-000000000000",
    "not-a-uuid",
    "../../../../etc/passwd",
    "' OR '1'='1",
    "'; DROP TABLE circles_circle; --",
    "\\",
    "%00",
    "//evil.example/",
    "/\\evil.example",
    "https://evil.example/",
)
LONG = ("A" * 5000, SCRIPT * 120, "é" * 3000, "x " * 2000)
HOSTILE: tuple[str, ...] = MARKUP + TEMPLATE_SYNTAX + CONTROL + UNICODE + WRONG_TYPES + LONG

# Raw bodies no browser sends: bytes that are not UTF-8, a lone surrogate as UTF-8 bytes, broken
# percent-escapes, JSON, a multipart body without a boundary, a file upload.
RAW_BODIES: tuple[tuple[str, bytes], ...] = (
    ("application/x-www-form-urlencoded", b"name=%ff%fe%fd&%ff=1&description=%ED%A0%80"),
    ("application/x-www-form-urlencoded", b"%zz=%&&==&a=%E2%82&b"),
    ("application/x-www-form-urlencoded", b"a=" + b"%41" * 3000),
    ("application/json", b'{"description": "<script>alert(1)</script>", "n": [1, 2]}'),
    ("text/plain", b"\x00\x01\x02 not a form"),
    ("multipart/form-data", b"--x\r\nnot really multipart"),
    (
        "multipart/form-data; boundary=fuzz",
        b'--fuzz\r\nContent-Disposition: form-data; name="notes"\r\n\r\n<script>alert(1)</script>\r\n'
        b'--fuzz\r\nContent-Disposition: form-data; name="upload"; filename="x.html"\r\n'
        b"Content-Type: text/html\r\n\r\n<script>alert(1)</script>\r\n--fuzz--\r\n",
    ),
    ("application/x-www-form-urlencoded", b""),
)

# What must never appear in a page as it was typed: each would run or render as markup.
RAW_MARKERS = (
    "<script>alert(1)",
    "<img src=x onerror",
    "onerror=alert(1)>",
    "<svg onload",
    "<a href=javascript:",
    'hx-get="/logout" hx-trigger="load',
    EVALUATED,
    EVALUATED_CONCAT,
)
EXTRA_FIELD_NAMES = (
    "q",
    "next",
    "state",
    "status",
    "role",
    "id",
    "public_id",
    "region",
    "user",
    "is_active",
    "password",
    "__proto__",
    "_csrf_token2",
    "x" * 150,
    "<script>",
    "名前",
    "a[b]",
)

# "pending" is a coordinator who gave the password but not yet the second factor.
ROLES = ("anonymous", "admin", "coordinator", "volunteer", "probation", "pending")
ROLE_EMAILS = {
    "admin": "ada@example.org",
    "coordinator": "cara@example.org",
    "volunteer": "alice@example.org",
    "probation": "priya@example.org",
    "pending": "dan@example.org",
}
PENDING_PAGE = "/login/second-factor"


# --- the route table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # as Litestar spells it: "/circles/{public_id:uuid}/edit"
    name: str
    params: tuple[tuple[str, str], ...]  # (name, type) in path order
    rule: str

    def __str__(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def roles(self) -> frozenset[str]:
        """The roles the route's access rule lets in (anonymous included for public routes)."""
        if self.rule.startswith("anyone"):
            return frozenset(ROLES)
        if self.rule.startswith("any signed-in"):
            return frozenset(ROLES) - {"anonymous", "pending"}
        if self.rule.startswith("a session waiting for its second factor"):
            return frozenset({"pending"})
        if self.rule.startswith("roles:"):
            return frozenset(part.strip() for part in self.rule.removeprefix("roles:").split(","))
        return frozenset()

    @property
    def regex(self) -> re.Pattern[str]:
        return template_regex(self.template)

    def fill(self, values: dict[str, str]) -> str:
        path = self.template
        for name, kind in self.params:
            path = path.replace("{" + f"{name}:{kind}" + "}", values[name])
        return path


PARAM = re.compile(r"\{(\w+):(\w+)\}")
SKIPPED_METHODS = {"OPTIONS", "HEAD"}


def template_regex(template: str) -> re.Pattern[str]:
    pattern = ""
    position = 0
    for match in PARAM.finditer(template):
        pattern += re.escape(template[position : match.start()])
        pattern += f"(?P<{match.group(1)}>.+)" if match.group(2) == "path" else f"(?P<{match.group(1)}>[^/]+)"
        position = match.end()
    pattern += re.escape(template[position:])
    return re.compile("^" + pattern.rstrip("/") + "/?$")


def app_routes(app: Litestar) -> list[Route]:
    """Every handler of the app with the method it answers, its path template and its access rule."""
    found: dict[tuple[str, str], Route] = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            rules = [getattr(g, "access_rule", None) for g in handler.resolve_guards()]
            rule = next((r for r in rules if r), "")
            for method in sorted(handler.http_methods - SKIPPED_METHODS):
                template = route.path
                params = tuple((p.name, _param_kind(route.path, p.name)) for p in route.path_parameters.values())
                found[(method, template)] = Route(method, template, handler.name or handler.handler_name, params, rule)
    return sorted(found.values(), key=lambda r: (r.template, r.method))


def _param_kind(template: str, name: str) -> str:
    match = re.search(r"\{" + re.escape(name) + r":(\w+)\}", template)
    return match.group(1) if match else "str"


def match_route(routes: Iterable[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route a concrete path belongs to, preferring one without parameters (/core-members/new)."""
    candidates = []
    for route in routes:
        if route.method != method:
            continue
        match = route.regex.match(path)
        if match:
            candidates.append((len(route.params), route, {k: unquote(v) for k, v in match.groupdict().items()}))
    if not candidates:
        return None
    candidates.sort(key=lambda c: c[0])
    return candidates[0][1], candidates[0][2]


# --- pages -------------------------------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete"}
HX_METHODS = {"hx-get": "GET", "hx-post": "POST", "hx-put": "PUT", "hx-patch": "PATCH", "hx-delete": "DELETE"}


@dataclass
class FormField:
    name: str
    kind: str  # text, hidden, date, time, datetime-local, email, number, checkbox, radio, select, textarea, submit
    value: str = ""  # what a browser sends when the user changes nothing
    checked: bool = False
    options: list[str] = field(default_factory=list)  # select options, or the values of same-named boxes


@dataclass
class Form:
    method: str
    action: str  # a concrete path, as the page wrote it
    fields: list[FormField] = field(default_factory=list)

    def defaults(self) -> list[tuple[str, str]]:
        """What the browser sends for this form as served (the first submit button counts as clicked)."""
        sent: list[tuple[str, str]] = []
        clicked = False
        for f in self.fields:
            if f.name == "_csrf_token":  # the browser helper adds the current one (or leaves it out on purpose)
                continue
            if f.kind in ("checkbox", "radio"):
                if f.checked:
                    sent.append((f.name, f.value))
            elif f.kind == "submit":
                if not clicked and f.name:
                    sent.append((f.name, f.value))
                    clicked = True
            elif f.kind not in ("file", "button", "reset"):
                sent.append((f.name, f.value))
        return sent

    def choices(self) -> dict[str, list[str]]:
        """Per field name, every value the page offers (options, boxes, buttons)."""
        out: dict[str, list[str]] = {}
        for f in self.fields:
            values = f.options if f.kind == "select" else [f.value]
            if f.kind in ("select", "checkbox", "radio", "submit"):
                out.setdefault(f.name, [])
                out[f.name] += [v for v in values if v not in out[f.name]]
        return out

    def kinds(self) -> dict[str, str]:
        return {f.name: f.kind for f in self.fields}


@dataclass
class Page:
    forms: list[Form] = field(default_factory=list)
    urls: list[tuple[str, str, str]] = field(default_factory=list)  # (attribute, method, url)
    attributes: list[tuple[str, str, str]] = field(default_factory=list)  # (tag, attribute, value)


class PageParser(HTMLParser):
    def __init__(self, page_path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.page_path = page_path
        self.form: Form | None = None
        self.select: FormField | None = None
        self.textarea: FormField | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        for k, v in attrs:
            self.page.attributes.append((tag, k, v or ""))
            if k in URL_ATTRIBUTES and v is not None:
                method = HX_METHODS.get(k, "POST" if k == "action" and a.get("method", "").lower() == "post" else "GET")
                self.page.urls.append((k, method, v))
        if tag == "form":
            hx = next(((HX_METHODS[k], a[k]) for k in HX_METHODS if k in a), None)
            method = hx[0] if hx else a.get("method", "get").upper()
            self.form = Form(method=method, action=hx[1] if hx else (a.get("action") or self.page_path))
            self.page.forms.append(self.form)
            return
        if self.form is None:
            return
        name = a.get("name", "")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            value = a.get("value", "on" if kind in ("checkbox", "radio") else "")
            self.form.fields.append(FormField(name, kind, value, "checked" in a))
        elif tag == "button" and a.get("type", "submit").lower() == "submit":
            self.form.fields.append(FormField(name, "submit", a.get("value", "")))
        elif tag == "select" and name:
            self.select = FormField(name, "select")
            self.form.fields.append(self.select)
        elif tag == "option" and self.select is not None:
            value = a.get("value", "")
            self.select.options.append(value)
            if "selected" in a or (not self.select.value and len(self.select.options) == 1):
                self.select.value = value
        elif tag == "textarea" and name:
            self.textarea = FormField(name, "textarea")
            self.form.fields.append(self.textarea)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.form = None
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea is not None:
            self.textarea.value += data


def parse_page(html: str, page_path: str) -> Page:
    parser = PageParser(page_path)
    parser.feed(html)
    parser.close()
    return parser.page


def site_path(url: str) -> str | None:
    """The path of a link into this site, or None for other sites, fragments and mailto: links."""
    parts = urlsplit(url)
    if parts.scheme not in ("", "http", "https") or (parts.netloc and parts.netloc != "testserver"):
        return None
    if not parts.path.startswith("/"):
        return None
    return parts.path


def is_html(response: Any) -> bool:
    kind = response.headers.get("content-type", "")
    return "html" in kind or (not kind and bool(response.content))


# --- the checks every response must pass -------------------------------------------------------------


def response_problems(response: Any) -> list[str]:
    """Why this response is unsafe: a server error, markup or template syntax rendered live, user text
    turned into an event handler or htmx attribute, or a redirect off the site."""
    problems = []
    if response.status_code >= 500:
        problems.append(f"server error {response.status_code}")
    location = response.headers.get("location")
    if location is not None and (
        not location.startswith("/")
        or location.startswith("//")
        or "\\" in location
        or any(ord(c) < 32 for c in location)
    ):
        problems.append(f"redirect off the site: {location!r}")
    if is_html(response):
        body = response.text
        for marker in RAW_MARKERS:
            if marker in body:
                at = body.index(marker)
                problems.append(f"unescaped {marker!r} in the page: …{body[max(0, at - 80) : at + 80]!r}…")
        if EVALUATED_SEVEN in body:  # COMPOSITE sends {{7*7}} right after IMG: it must not come back as 49
            problems.append("{{7*7}} came back as 49")
        page = parse_page(body, "/")
        for tag, name, value in page.attributes:
            if name.startswith("on"):
                problems.append(f"event handler attribute <{tag} {name}={value!r}>")
            if name.startswith("hx-") and name != "hx-headers" and any(m in value for m in ("alert(", "<", "{{", "%(")):
                problems.append(f"user text in an htmx attribute <{tag} {name}={value!r}>")
            if name in URL_ATTRIBUTES and value.strip().lower().startswith(("javascript:", "data:text")):
                problems.append(f"script URL <{tag} {name}={value!r}>")
    return problems


# --- signed-in browsers, one per role ----------------------------------------------------------------


class Browsers:
    """A client per role; a role whose session ended (it signed out, say) signs in again before its next
    request."""

    def __init__(self, clients: dict[str, AsyncTestClient[Litestar]], emails: dict[str, str]) -> None:
        self.clients = clients
        self.emails = emails
        self.stale: set[str] = set()
        self.kinds: dict[str, str] = {}  # browser name -> the role it signs in as (a second volunteer, say)
        self.tokens: set[str] = set()  # every session token any browser held
        self.log: list[tuple[str, str, str, Any]] | None = None  # (role, method, url, response) when recording

    @classmethod
    async def open(cls, make_client: Callable[[], Any], emails: dict[str, str] | None = None) -> Browsers:
        browsers = cls({}, dict(emails or ROLE_EMAILS))
        for role in ("anonymous", *browsers.emails):
            await browsers.add(make_client, role)
        return browsers

    async def add(self, make_client: Callable[[], Any], role: str, email: str = "", kind: str = "") -> None:
        """Open a browser for a role (or for another user of role `kind`, under a name of your choosing)."""
        client = await make_client()
        self.clients[role] = client
        self.kinds[role] = kind or role
        if email:
            self.emails[role] = email
        await self._sign_in(role, client)

    async def _sign_in(self, role: str, client: AsyncTestClient[Litestar]) -> None:
        if role == "anonymous":
            await client.get("/login")
        elif self.kinds.get(role, role) == "pending":
            # The password only: the session then waits for a code from an enrolled authenticator.
            await enrol_second_factor(self.emails[role])
            await client.get("/login")
            response = await form_post(client, "/login", {"email": self.emails[role], "password": PASSWORD})
            assert response.headers.get("location", "").startswith(PENDING_PAGE), response.headers
        else:
            await login(client, self.emails[role])
        self.tokens.add(session_cookie(client))

    async def ensure(self, role: str) -> AsyncTestClient[Litestar]:
        client = self.clients[role]
        if role in self.stale:
            self.stale.discard(role)
            await self._sign_in(role, client)
        return client

    def session_tokens(self) -> list[str]:
        return [t for t in (session_cookie(c) for c in self.clients.values()) if t]

    def notice(self, role: str, response: Any) -> None:
        """Mark a role for signing in again when a response shows its session has ended."""
        if role == "anonymous":
            return
        location = response.headers.get("location", "") or response.headers.get("hx-redirect", "")
        if location.startswith(PENDING_PAGE):
            return  # still waiting for the second factor: the session lives on
        if location.startswith("/login") or response.status_code == 401:
            self.stale.add(role)

    async def request(
        self,
        role: str,
        method: str,
        url: str,
        *,
        fields: list[tuple[str, str]] | None = None,
        raw: tuple[str, bytes] | None = None,
        csrf: str = "ok",
        htmx: bool = False,
    ) -> Any:
        client = await self.ensure(role)
        headers = {"HX-Request": "true"} if htmx else {}
        if method == "GET":
            response = await client.get(url, headers=headers, follow_redirects=False)
        else:
            token = {
                "ok": csrf_token(client),
                "missing": None,
                "wrong": "forged-" + uuid.uuid4().hex,
                "odd": "é" * 65 + csrf_token(client),  # not ASCII, and longer than a real token
            }[csrf]
            if raw is not None:
                content_type, body = raw
                if token:
                    headers["x-csrftoken"] = token
                headers["content-type"] = content_type
                response = await client.request(method, url, content=body, headers=headers, follow_redirects=False)
            else:
                data: dict[str, list[str]] = {}
                for name, value in fields or []:
                    data.setdefault(name, []).append(value)
                if token:
                    data.setdefault("_csrf_token", []).append(token)
                response = await client.request(method, url, data=data, headers=headers, follow_redirects=False)
        self.notice(role, response)
        self.tokens.add(session_cookie(client))
        if self.log is not None:
            self.log.append((role, method, url, response))
        return response


# --- a world of seeded records -----------------------------------------------------------------------

Text = Callable[[str, str, int], str]


def plain(_key: str, default: str, _limit: int) -> str:
    return default


def stored_hostile(key: str, default: str, limit: int) -> str:
    """Markup and template syntax stored in every free-text column (within its length)."""
    value = f"{SCRIPT}{default}{IMG}{TEMPLATE_PROBES[0]}"
    if len(value) <= limit:
        return value
    short = f"{SCRIPT}{default}"
    return short if len(short) <= limit else default[:limit]


async def seed_world(app: Litestar, cast: Any, text: Text = plain) -> SimpleNamespace:
    """On top of the programme fixture (circles A and B): every kind of record a route can act on, with
    its free text from `text(key, default, max_length)` so tests can plant canaries or markup."""
    async with write_transaction():  # one commit, not a hundred: each costs a disk flush
        return await _seed(app, cast, text)


async def _seed(app: Litestar, cast: Any, text: Text) -> SimpleNamespace:
    settings, jinja = app.state.settings, app.state.jinja
    now = utcnow()
    world = SimpleNamespace(cast=cast)

    async def core_member_text(row: Any, key: str) -> None:
        await CoreMember.update(
            {
                CoreMember.full_name: text(f"{key}.full_name", row.full_name, 120),
                CoreMember.known_as: text(f"{key}.known_as", row.known_as or "Sam", 60),
                CoreMember.pronouns: text(f"{key}.pronouns", "they/them", 30),
                CoreMember.offence_details: text(f"{key}.offence_details", "Offence details", 4000),
                CoreMember.order_conditions: text(f"{key}.order_conditions", "Order conditions", 4000),
                CoreMember.nrm_referred_on: date(2019, 7, 13),
                CoreMember.nrm_reasonable_grounds: "positive",
                CoreMember.nrm_reasonable_grounds_on: date(2019, 8, 21),
                CoreMember.release_on: now.date() - timedelta(days=20),
            }
        ).where(CoreMember.id == row.id)

    await core_member_text(cast.core_a, "core_a")
    await core_member_text(cast.core_b, "core_b")
    core_c = await make_core_member(cast.north, cast.probation, full_name="Cora Lindqvist", known_as="Cora")
    await core_member_text(core_c, "core_c")
    circle_c = await make_circle(core_c, cast.coordinator, code_name="Circle Aspen")
    world.core_c, world.circle_c = core_c, circle_c

    for circle, key in ((cast.circle_a, "circle_a"), (cast.circle_b, "circle_b"), (circle_c, "circle_c")):
        await Circle.update(
            {
                Circle.code_name: text(f"{key}.code_name", circle.code_name, 40),
                Circle.venue: text(f"{key}.venue", "The Quaker Meeting House", 120),
                Circle.covenant_text: text(f"{key}.covenant_text", "We agree to meet weekly.", 4000),
                Circle.meeting_weekday: 1,
                Circle.meeting_time: time(18, 30),
            }
        ).where(Circle.id == circle.id)

    await RiskConnection.update(
        {RiskConnection.description: text("core_a.risk_connection", "A car wash in Sneinton", 2000)}
    ).where(RiskConnection.core_member == cast.core_a.id)
    await RiskConnection(
        core_member=cast.core_b.id,
        kind="person",
        description=text("core_b.risk_connection", "A cousin in Leicester", 2000),
        districts=["LE1"],
        created_at=now,
    ).save()
    world.notes = {}
    for core, key in ((cast.core_a, "core_a"), (cast.core_b, "core_b")):
        for shared in (True, False):
            note_key = f"{key}.note_{'shared' if shared else 'private'}"
            note = CaseNote(
                core_member=core.id,
                body=text(note_key, "Met at the day centre.", 10000),
                shared_with_circle=shared,
                created_at=now,
                created_by=cast.coordinator.id,
            )
            await note.save()
            world.notes[note_key] = note
    await NeedChange(
        core_member=cast.core_a.id,
        area="accommodation",
        status="unmet",
        changed_on=now.date(),
        changed_at=now,
        changed_by=cast.coordinator.id,
    ).save()
    outer = OuterCircleMember(
        circle=cast.circle_a.id,
        name=text("outer.name", "Olu Adebayo", 120),
        organisation=text("outer.organisation", "Housing Trust", 120),
        role="Support worker",
        email="olu@housing.example",
        phone=text("outer.phone", "0115 496 0000", 40),
    )
    await outer.save()
    world.outer = outer

    # Volunteers' own details; Alice is invited to circle C as well (a pending invitation to answer).
    for volunteer, user, key in (
        (cast.alice, cast.volunteer_a1, "alice"),
        (cast.bob, cast.volunteer_a2, "bob"),
        (cast.charlie, cast.volunteer_b, "charlie"),
    ):
        name = text(f"{key}.name", volunteer.display_name, 120)
        local = text(f"{key}.email", volunteer.email.split("@")[0], 64)
        email = f"{local}@volunteers.example".lower() if re.fullmatch(r"[\w.+-]+", local) else volunteer.email
        await Volunteer.update(
            {
                Volunteer.display_name: name,
                Volunteer.email: email,
                Volunteer.phone: text(f"{key}.phone", "07700 900123", 40),
                Volunteer.declared_connections: text(f"{key}.declared_connections", "None known", 4000),
            }
        ).where(Volunteer.id == volunteer.id)
        await User.update({User.display_name: name}).where(User.id == user.id)
        await SupervisionSession(
            volunteer=volunteer.id,
            coordinator=cast.coordinator.id,
            held_on=now.date() - timedelta(days=10),
            notes=text(f"{key}.supervision", "Going well.", 10000),
            created_at=now,
        ).save()
    world.invitation = await seat(circle_c, cast.alice, status="invited")
    world.applicant = await make_volunteer(cast.north, "Vera Applicant", status="applicant")

    # Meetings: a past one whose minutes Alice owes, an approved and shared one, an upcoming one; circle B's.
    def meeting(circle: Any, days: int, **fields: Any) -> Meeting:
        starts = (now + timedelta(days=days)).replace(microsecond=0)
        return Meeting(
            circle=circle.id, starts_at=starts, ends_at=starts + timedelta(minutes=90), created_at=now, **fields
        )

    world.meeting_owed = meeting(
        cast.circle_a,
        -1,
        venue=text("meeting.venue", "Room 2", 120),
        minute_taker=cast.alice.id,
        minutes=text("circle_a.minutes_draft", "Draft minutes.", 20000),
        minutes_status="draft",
    )
    world.meeting_shared = meeting(
        cast.circle_a,
        -8,
        minutes=text("circle_a.minutes_approved", "Approved minutes.", 20000),
        minutes_status="approved",
        minutes_approved_at=now - timedelta(days=7),
        minutes_approved_by=cast.coordinator.id,
        minutes_shared_at=now - timedelta(days=7),
        minute_taker=cast.bob.id,
    )
    world.meeting_next = meeting(cast.circle_a, 3, venue=text("meeting.venue_next", "Room 3", 120))
    world.meeting_b = meeting(
        cast.circle_b,
        -2,
        minutes=text("circle_b.minutes_approved", "Circle B minutes.", 20000),
        minutes_status="approved",
        minutes_approved_at=now - timedelta(days=1),
        minute_taker=cast.charlie.id,
    )
    for m in (world.meeting_owed, world.meeting_shared, world.meeting_next, world.meeting_b):
        await m.save()

    for circle, volunteer, key in (
        (cast.circle_a, cast.alice, "circle_a.check_in_alice"),
        (cast.circle_a, cast.bob, "circle_a.check_in_bob"),
        (cast.circle_b, cast.charlie, "circle_b.check_in_charlie"),
    ):
        await CheckIn(
            circle=circle.id,
            volunteer=volunteer.id,
            idempotency_key=uuid.uuid4().hex,
            happened_at=now - timedelta(hours=5),
            method="phone",
            wellbeing=3,
            indicators=[],
            notes=text(key, "Had a coffee and a chat.", 10000),
            created_at=now,
        ).save()

    # Concerns: Alice's own (added to, then escalated by the coordinator with a note), Bob's, an urgent one
    # the coordinator raised (escalated at once and acknowledged by Priya), and one in circle B.
    async def circle_row(circle: Any) -> dict[str, Any]:
        row = await Circle.select().where(Circle.id == circle.id).first()
        assert row is not None
        return row

    async def concern_row(public_id: Any) -> dict[str, Any]:
        from circles.tables import Concern

        row = await Concern.select().where(Concern.public_id == public_id).output(load_json=True).first()
        assert row is not None
        return row

    a, b = await circle_row(cast.circle_a), await circle_row(cast.circle_b)
    seen = now - timedelta(hours=2)

    def raise_(by: Any, circle: dict[str, Any], severity: str, key: str, default: str) -> Any:
        return concerns.raise_concern(
            settings,
            jinja,
            by=by,
            circle=circle,
            severity=severity,
            description=text(key, default, 10000),
            indicators=[],
            seen_at=seen,
            now=now,
        )

    world.concern_alice = await raise_(cast.volunteer_a1, a, "concern", "concern.alice", "He seemed frightened.")
    await concerns.add_to(
        by=cast.volunteer_a1,
        concern=await concern_row(world.concern_alice),
        text=text("concern.alice_added", "He mentioned a debt.", 10000),
        now=now,
    )
    await concerns.triage(
        settings,
        jinja,
        by=cast.coordinator,
        concern=await concern_row(world.concern_alice),
        escalate_it=True,
        note=text("concern.triage_note", "Escalating: risk of re-exploitation.", 10000),
        now=now,
    )
    world.concern_bob = await raise_(cast.volunteer_a2, a, "info", "concern.bob", "He missed the meeting.")
    world.concern_urgent = await raise_(cast.coordinator, a, "urgent", "concern.urgent", "Seen with the old gang.")
    world.concern_b = await raise_(cast.volunteer_b, b, "concern", "concern.charlie", "She looked unwell.")
    escalations = (
        await Escalation.select(Escalation.id, Escalation.public_id, Escalation.acknowledged_at, Escalation.closed_at)
        .where(Escalation.officer == cast.probation.id)
        .order_by(Escalation.id)
    )
    world.escalations = [e["public_id"] for e in escalations]
    if escalations:
        await concerns.acknowledge(by=cast.probation, escalation=escalations[0], now=now)
        acknowledged = await Escalation.select().where(Escalation.id == escalations[0]["id"]).first()
        assert acknowledged is not None
        await concerns.record_action(
            by=cast.probation,
            escalation=acknowledged,
            action="home_visit",
            notes=text("escalation.action_notes", "Visited; safe for now.", 4000),
            now=now,
        )

    # A staff member invited but not yet signed up (the invitation link's token), and Alice's calendar feed.
    invited = User(
        email="nia@example.org",
        display_name=text("invited.display_name", "Nia Invited", 120),
        role="coordinator",
        is_active=True,
        region=cast.north.id,
        password_hash="",
        created_at=now,
    )
    await invited.save()
    world.invited = invited
    world.invitation_token = await issue_invitation_token(settings, invited.id, cast.admin.id, now)
    from circles.calendar import create_feed

    world.feed_token = await create_feed(user=cast.volunteer_a1, now=now)
    # A deactivated volunteer user to reactivate; an admin who is not the acting one, to change.
    world.inactive = User(
        email="ivan@example.org",
        display_name="Ivan Inactive",
        role="volunteer",
        is_active=False,
        password_hash=await hash_password(settings, PASSWORD),
        created_at=now,
        activated_at=now,
    )
    await world.inactive.save()
    return world


# --- values for path parameters ----------------------------------------------------------------------


def _noun(segment: str) -> str:
    noun = segment.replace("-", "_").lower()
    if noun.endswith("ies"):
        return noun[:-3] + "y"
    return noun[:-1] if noun.endswith("s") and not noun.endswith("ss") else noun


def _table_names() -> dict[str, Any]:
    """Short table name ("core_member", "membership") -> table, for tables with a public id."""
    out = {}
    for table in Finder().get_table_classes():
        if any(c._meta.name == "public_id" for c in table._meta.columns):
            out[table._meta.tablename.split("_", 1)[1]] = table
    return out


def tables_for(route: Route, param: str) -> list[Any]:
    """The tables whose public ids fit a path parameter, from the nouns around it in the template."""
    segments = route.template.strip("/").split("/")
    index = next(i for i, s in enumerate(segments) if s.startswith("{" + param + ":"))
    before = _noun(segments[index - 1]) if index > 0 else ""
    stem = param.removesuffix("_id")
    stem = "" if stem == "public" else stem
    tables = _table_names()
    for token in (f"{before}_{stem}" if before and stem else "", stem, before):
        if not token:
            continue
        exact = [t for name, t in tables.items() if name == token]
        if exact:
            return exact
        ending = [t for name, t in tables.items() if name.endswith("_" + token)]
        if ending:
            return ending
    return []


async def uuid_values(route: Route, param: str, exclude: set[str]) -> list[str]:
    values: list[str] = []
    for table in tables_for(route, param):
        rows = await table.select(table.public_id).order_by(table._meta.primary_key)
        values += [str(r["public_id"]) for r in rows if str(r["public_id"]) not in exclude]
    return values


async def known_values(route: Route, world: Any, exclude: set[str]) -> dict[str, list[str]]:
    """Real values for each path parameter of a route (possibly none for a parameter we cannot place)."""
    out: dict[str, list[str]] = {}
    for name, kind in route.params:
        if kind == "uuid":
            out[name] = await uuid_values(route, name, exclude)
        elif name == "code":
            out[name] = [r["code"] for r in await Indicator.select(Indicator.code).limit(3)]
        elif name == "severity":
            out[name] = ["urgent", "concern", "info"]
        elif name == "answer":
            out[name] = ["accept", "decline"]
        elif name == "token":
            out[name] = [world.invitation_token]
        elif name == "feed_file":
            out[name] = [world.feed_token + ".ics"]
        else:
            out[name] = []
    return out


GARBAGE_PATH_VALUES = (
    "00000000-0000-0000-0000-000000000000",
    "not-a-uuid",
    "1",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "%7B%7B1337*7331%7D%7D",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "%ff%fe",
    "%ED%A0%80",
    "A" * 300,
    "%F0%9F%99%82",
)


def garbage_value(kind: str) -> list[str]:
    values = list(GARBAGE_PATH_VALUES)
    if kind == "uuid":
        values.append("5b0e1d0c-7f3a-4c3e-9d1a-2b7c4e8f9a01")  # well formed, and no row has it
    return values


def acting_user_ids(cast: Any) -> set[str]:
    """The public ids of the users the browsers act as: fuzzing never deactivates or demotes them."""
    acting = (cast.admin, cast.coordinator, cast.volunteer_a1, cast.probation, cast.coordinator_south)
    return {str(u.public_id) for u in acting}


def query_pairs(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


def typed_values(kind: str) -> list[str]:
    """Values a browser would send for an input of this type, so a form can pass its validation."""
    local = utcnow().astimezone(LONDON)
    return {
        "date": [
            local.date().isoformat(),
            (local.date() - timedelta(days=3)).isoformat(),
            (local.date() + timedelta(days=7)).isoformat(),
        ],
        "time": ["18:30", "09:05"],
        "datetime-local": [(local - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")],
        "email": ["someone.new@example.org"],
        "number": ["3", "90"],
        "tel": ["07700 900456"],
        "password": ["a long enough passphrase here"],
    }.get(kind, [])


# --- the app's routes, read once ---------------------------------------------------------------------


def route_table() -> list[Route]:
    """Read at collection time, from an app built only for that (a handler keeps it from setting up logging)."""
    root = logging.getLogger()
    guard = logging.NullHandler()
    root.addHandler(guard)
    try:
        return app_routes(create_app(load_settings()))
    finally:
        root.removeHandler(guard)


ROUTES = route_table()
WRITE_ROUTES = [r for r in ROUTES if r.method != "GET"]
READ_ROUTES = [r for r in ROUTES if r.method == "GET"]
HANDLER_NOT_REACHED = {401, 403, 404, 405}
COMPOSITE = f"{SCRIPT}{IMG}{TEMPLATE}{TEMPLATE_PROBES[0]}{TEMPLATE_PROBES[4]}"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"
TEXT_KINDS = ("text", "textarea", "search", "email", "tel", "url")


def with_text(form: Form | None, value: str) -> list[tuple[str, str]]:
    """The form as served, with every free-text field holding `value`."""
    if form is None:
        return [("name", value), ("description", value), ("notes", value)]
    kinds = form.kinds()
    return [(name, value if kinds.get(name) in TEXT_KINDS else old) for name, old in form.defaults()]


# --- what was sent, and what came back ---------------------------------------------------------------


@dataclass
class Sent:
    role: str
    method: str
    url: str
    fields: list[tuple[str, str]] | None = None
    raw: tuple[str, bytes] | None = None
    htmx: bool = False
    csrf: str = "ok"

    def describe(self) -> str:
        payload = repr(self.raw) if self.raw is not None else repr(self.fields)
        if len(payload) > 700:
            payload = payload[:700] + "…"
        extra = " (htmx)" if self.htmx else ""
        return f"{self.method} {self.url} as {self.role}{extra}, csrf {self.csrf}, payload {payload}"


@dataclass
class Harness:
    browsers: Browsers
    world: Any
    routes: list[Route]
    targets: dict[Route, list[str]] = field(default_factory=dict)  # real concrete paths, best first
    forms: dict[Route, list[Form]] = field(default_factory=dict)
    queries: dict[Route, set[str]] = field(default_factory=dict)  # query parameter names seen in pages
    reached: set[Route] = field(default_factory=set)
    exclude: set[str] = field(default_factory=set)
    collect: list[str] | None = None  # when set, problems are gathered here instead of failing at once
    escaped: int = 0  # pages that showed planted markup, escaped: proof the checks looked at some
    # Hypothesis needs the same choices every time it replays an example: once frozen, what was learnt
    # (forms, paths) stays as it was, however the fuzzing changes the database.
    frozen: dict[Route, list[str]] | None = None

    def __repr__(self) -> str:  # Hypothesis prints the arguments of a failing example
        return f"Harness({len(self.routes)} routes)"

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:  # ...with its own printer, not repr()
        printer.text(repr(self))

    async def send(self, sent: Sent, route: Route | None = None) -> Any:
        response = await self.browsers.request(
            sent.role, sent.method, sent.url, fields=sent.fields, raw=sent.raw, csrf=sent.csrf, htmx=sent.htmx
        )
        problems = response_problems(response)
        self.escaped += is_html(response) and ESCAPED_SCRIPT in response.text
        if problems and self.collect is not None:
            self.collect.append(f"{sent.describe()} -> {response.status_code}: {problems}")
            return response
        assert not problems, f"{sent.describe()} -> {response.status_code}: {problems}"
        if route is not None and self.browsers.kinds[sent.role] in route.roles and handler_reached(sent.role, response):
            self.reached.add(route)
        location = response.headers.get("location", "")
        if 300 <= response.status_code < 400 and site_path(location) and not location.startswith("/login"):
            # Where the app sends the browser next shows what was just stored: it must be inert there too.
            follow = Sent(sent.role, "GET", location)
            after = await self.browsers.request(sent.role, "GET", location)
            problems = response_problems(after)
            if problems and self.collect is not None:
                self.collect.append(f"{sent.describe()} -> {location} -> {after.status_code}: {problems}")
            assert self.collect is not None or not problems, (
                f"{sent.describe()} -> {location} -> {after.status_code}: {problems}"
            )
            self._learn(follow.url, after)
        elif sent.method == "GET":
            self._learn(sent.url, response)
        return response

    async def freeze(self, routes: Iterable[Route]) -> None:
        self.frozen = {route: await self.real_paths(route) for route in routes}

    def fixed_paths(self, route: Route) -> list[str]:
        assert self.frozen is not None, "freeze() the harness before fuzzing with Hypothesis"
        return self.frozen.get(route, [])

    def _learn(self, url: str, response: Any) -> None:
        """Remember forms, links and query parameter names the page offers, by the route they go to."""
        if self.frozen is not None:
            return
        if response.status_code != 200 or "html" not in response.headers.get("content-type", ""):
            return
        path = site_path(url) or url
        page = parse_page(response.text, path)
        for form in page.forms:
            action = site_path(form.action)
            found = action and match_route(self.routes, form.method, action)
            if found:
                route, _params = found
                forms = self.forms.setdefault(route, [])
                if len(forms) < 6:
                    forms.append(form)
                targets = self.targets.setdefault(route, [])
                if action not in targets:
                    targets.insert(0, action)
                if form.method == "GET":
                    self.queries.setdefault(route, set()).update(f.name for f in form.fields if f.name)
        for _attribute, method, url in page.urls:
            target = site_path(url)
            found = target and match_route(self.routes, method, target)
            if found:
                route, _params = found
                targets = self.targets.setdefault(route, [])
                if target not in targets and len(targets) < 12:
                    targets.append(target)
                self.queries.setdefault(route, set()).update(name for name, _v in query_pairs(url))

    async def real_paths(self, route: Route, limit: int = 6) -> list[str]:
        """Concrete paths with real values: first those pages link to, then combinations of seeded ids; never
        one naming a user the browsers act as (deactivating the admin would end the run, not test it)."""
        paths = [p for p in self.targets.get(route, []) if not any(user in p for user in self.exclude)]
        values = await known_values(route, self.world, self.exclude)
        if all(values.values()) or not route.params:
            combos = itertools.islice(itertools.product(*[values[name] for name, _k in route.params]), limit)
            for combo in combos:
                path = route.fill(dict(zip([n for n, _k in route.params], combo, strict=True)))
                if path not in paths:
                    paths.append(path)
        return paths

    def garbage_paths(self, route: Route) -> list[str]:
        out = []
        for name, kind in route.params:
            for bad in garbage_value(kind):
                values = {n: (bad if n == name else placeholder(self, route, n)) for n, _k in route.params}
                out.append(route.fill(values))
        return out


def placeholder(harness: Harness, route: Route, name: str) -> str:
    for path in harness.targets.get(route, []):
        match = route.regex.match(path)
        if match:
            return match.group(name)
    return "00000000-0000-0000-0000-000000000000"


def handler_reached(role: str, response: Any) -> bool:
    """Whether the handler ran: not refused, not missing, and (for a visitor) not sent to sign in. A
    signed-in role sent to the sign-in page was signed out by the handler itself (logout)."""
    location = response.headers.get("location", "") or response.headers.get("hx-redirect", "")
    signed_out = role == "anonymous" and location.startswith("/login")
    return response.status_code not in HANDLER_NOT_REACHED and not signed_out


async def open_harness(app: Litestar, make_client: Any, cast: Any, text: Text = stored_hostile) -> Harness:
    """A seeded world and a signed-in browser for every role."""
    world = await seed_world(app, cast, text)
    browsers = await Browsers.open(make_client)
    return Harness(browsers=browsers, world=world, routes=ROUTES, exclude=acting_user_ids(cast))


# --- where each write route's form lives ---------------------------------------------------------------


def source_pages(route: Route) -> list[list[Route]]:
    """GET routes likely to hold the form for a write route, in groups tried in turn: the same path, the
    paths it extends, its section, then the pages every user has."""

    def segments(r: Route) -> list[str]:
        return r.template.strip("/").split("/")

    own = segments(route)
    same = [r for r in READ_ROUTES if r.template == route.template]
    prefixes = sorted(
        (r for r in READ_ROUTES if r not in same and own[: len(segments(r))] == segments(r) and r.template != "/"),
        key=lambda r: -len(segments(r)),
    )
    section = [r for r in READ_ROUTES if r not in same + prefixes and segments(r)[0] == own[0] and own[0]]
    everyone = [r for r in READ_ROUTES if r.template in ("/", "/account")]
    return [group for group in (same, prefixes, section, everyone) if group]


async def discover_forms(harness: Harness, route: Route) -> None:
    """GET the pages that may hold this route's form, as the roles that may use both, until one does."""
    for group in source_pages(route):
        for page in group:
            roles = [r for r in ROLES if r in page.roles and (r in route.roles or not route.roles)]
            for role in roles:
                for path in (await harness.real_paths(page, limit=4))[:4]:
                    await harness.send(Sent(role, "GET", path), page)
        if harness.forms.get(route):
            return


# --- following links -----------------------------------------------------------------------------------


async def crawl(harness: Harness, role: str, start: Iterable[str] = ("/",), limit: int = 200) -> list[tuple[str, Any]]:
    """Open every page a role is shown a link to (and every search form as served), breadth first; at most
    a few pages per route, so a long list does not become a long crawl."""
    queue = list(start)
    seen: set[str] = set()
    per_route: dict[Route, int] = {}
    pages: list[tuple[str, Any]] = []
    while queue and len(pages) < limit:
        parts = urlsplit(queue.pop(0))
        url = parts.path + (f"?{parts.query}" if parts.query else "")
        path = site_path(url)
        if url in seen or path is None or path.startswith("/static/"):
            continue
        seen.add(url)
        found = match_route(harness.routes, "GET", path)
        if found is None or per_route.get(found[0], 0) >= PAGES_PER_ROUTE:
            continue
        per_route[found[0]] = per_route.get(found[0], 0) + 1
        response = await harness.send(Sent(role, "GET", url), found[0])
        pages.append((url, response))
        if response.status_code != 200 or not is_html(response):
            continue
        page = parse_page(response.text, path)
        queue += [link for _attribute, method, link in page.urls if method == "GET"]
        queue += [f"{form.action}?{urlencode(form.defaults())}" for form in page.forms if form.method == "GET"]
    return pages


PAGES_PER_ROUTE = 4
