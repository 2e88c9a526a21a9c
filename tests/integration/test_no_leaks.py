"""Nothing sensitive leaks into logs, URLs, emails or the pages a volunteer can open (SECURITY.md 9 and 15).

Every sensitive field holds a canary: a unique string (or, for dates and postcode districts, a unique
value) that appears nowhere else. Then the app is used broadly: staff and volunteers browse everything
they are shown, send forms with canaries (valid ones and ones that fail validation), sign in with the
wrong password, open pages that do not exist or are not theirs, raise an urgent concern (its alert is
delivered to a real SMTP server), and finally every write route is fuzzed once more. Then:

- no canary, the known password or any session token appears in any log record, at any level;
- none appears in a URL the app generated (redirects, links, form actions, htmx attributes, the URL a
  search form would open), unless the request itself carried it (a search term the user typed);
- the password and session tokens appear in no page at all, nor the CSRF token in any URL;
- an email carries no canary but the circle's code name and the recipient's own details;
- a volunteer's pages (every link they are shown, and every page of every route with every real id)
  show only what they need: their own circle's code name, the core member's first name, what the
  coordinator shared, their circle's check-ins and approved minutes, their own concerns and details.
  Never offence details, order conditions, risk connections, NRM data, private notes, another circle,
  other volunteers' contact details or supervision notes.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

import pytest
from litestar import Litestar

from circles.tables import CoreMember, Escalation
from cosa import outbox
from cosa.app import create_app
from cosa.settings import Settings
from tests.integration.circles import conftest as circles_fixtures
from tests.integration.conftest import PASSWORD, Inbox, csrf_token
from tests.integration.fuzz_support import (
    COMPOSITE,
    READ_ROUTES,
    ROUTES,
    Browsers,
    Form,
    Harness,
    Sent,
    acting_user_ids,
    crawl,
    garbage_value,
    is_html,
    parse_page,
    seed_world,
    typed_values,
    with_text,
)
from volunteers.tables import Volunteer

programme = circles_fixtures.programme
SUFFIX = "7f3a"
FUZZ = f"CANARY-fuzz-{SUFFIX}"
WRONG_PASSWORD = "not the password at all"
SECRET_PARAMS = {"token", "feed_file"}  # path parameters that are bearer secrets of one user

# What each volunteer may see of the canaries (everything else is never shown to them).
CIRCLE_A = {
    "circle_a.code_name",
    "circle_a.venue",
    "circle_a.covenant_text",
    "core_a.known_as",
    "core_a.pronouns",
    "core_a.note_shared",  # shared with the circle by the coordinator
    "circle_a.minutes_approved",
    "meeting.venue",
    "meeting.venue_next",
    "circle_a.check_in_alice",  # the circle's check-ins are the circle's timeline
    "circle_a.check_in_bob",
    "bob.name",  # fellow volunteers know each other's names, not their contact details
    "new.meeting_venue",
    "new.covenant",
    "new.check_in",
}
ALLOWED = {
    "alice": CIRCLE_A
    | {
        # Circle C invited her: what an invitation shows (code name, the core member's first name, venue).
        "circle_c.code_name",
        "circle_c.venue",
        "circle_c.covenant_text",
        "core_c.known_as",
        "core_c.pronouns",
        # Her own concern, what she added to it, the minutes she is writing, her own details.
        "concern.alice",
        "concern.alice_added",
        "circle_a.minutes_draft",
        "new.concern_urgent",
        "new.concern_invalid",
        "new.concern_added",
        "new.minutes",
        "alice.name",
        "alice.email",
        "alice.phone",
        "alice.declared_connections",
        "alice.district",
    },
    "charlie": {
        "circle_b.code_name",
        "circle_b.venue",
        "circle_b.covenant_text",
        "core_b.known_as",
        "core_b.pronouns",
        "core_b.note_shared",
        "circle_b.minutes_approved",
        "circle_b.check_in_charlie",
        "concern.charlie",
        "charlie.name",
        "charlie.email",
        "charlie.phone",
        "charlie.declared_connections",
        "charlie.district",
    },
}
# Pseudonyms by design: they are what emails and calendars show instead of names.
CODE_NAMES = {"circle_a.code_name", "circle_b.code_name", "circle_c.code_name"}


# --- canaries ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Canary:
    key: str
    pattern: re.Pattern[str]


class Canaries:
    def __init__(self) -> None:
        self.items: dict[str, Canary] = {}

    def new(self, key: str, limit: int = 120) -> str:
        value = f"CANARY-{re.sub(r'[^A-Za-z0-9]+', '-', key)}-{SUFFIX}"
        if len(value) > limit:
            value = f"CANARY-{hashlib.sha256(key.encode()).hexdigest()[: max(4, limit - 12)]}-{SUFFIX}"
        self.add(key, re.escape(value))
        return value

    def text(self, key: str, _default: str, limit: int) -> str:
        """For seed_world: every free-text field gets its own canary."""
        return self.new(key, limit)

    def add(self, key: str, pattern: str) -> None:
        self.items[key] = Canary(key, re.compile(pattern, re.IGNORECASE))

    def found(self, text: str, keys: set[str] | None = None) -> set[str]:
        return {c.key for c in self.items.values() if (keys is None or c.key in keys) and c.pattern.search(text)}

    def value(self, key: str) -> str:
        return self.items[key].pattern.pattern.replace("\\", "")


def token(value: str) -> str:
    """A short canary (a postcode district) matched as a whole word, never inside a longer one."""
    return rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"


async def plant_the_rest(canaries: Canaries, cast: Any, world: Any) -> None:
    """Canaries that are not free text: NRM dates (seeded on every core member) and postcode districts."""
    canaries.add(
        "nrm.dates",
        r"2019-07-13|13 July 2019|13 Jul 2019|13/07/2019|2019-08-21|21 August 2019|21 Aug 2019|21/08/2019",
    )
    for key, core, district in (("core_a", cast.core_a, "ZQ71"), ("core_b", cast.core_b, "ZQ72")):
        await CoreMember.update({CoreMember.address_district: district}).where(CoreMember.id == core.id)
        canaries.add(f"{key}.district", token(district))
    await CoreMember.update({CoreMember.address_district: "ZQ73"}).where(CoreMember.id == world.core_c.id)
    canaries.add("core_c.district", token("ZQ73"))
    for key, volunteer, district in (
        ("alice", cast.alice, "ZQ81"),
        ("bob", cast.bob, "ZQ82"),
        ("charlie", cast.charlie, "ZQ83"),
    ):
        await Volunteer.update({Volunteer.home_district: district}).where(Volunteer.id == volunteer.id)
        canaries.add(f"{key}.district", token(district))


# --- everything the application logs -------------------------------------------------------------------

# Loggers of the test's own client, not of the application.
CLIENT_LOGGERS = ("httpx", "httpcore")
STANDARD_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def texts(self) -> Iterator[tuple[logging.LogRecord, str]]:
        """Each record as it would be written, with its arguments, extras, traceback and stack."""
        for record in self.records:
            if record.name.startswith(CLIENT_LOGGERS):
                continue
            extras = {k: v for k, v in vars(record).items() if k not in STANDARD_RECORD_FIELDS}
            yield record, f"{self.format(record)} {record.args!r} {extras!r} {record.stack_info or ''}"


@pytest.fixture
def app_logs() -> Iterator[Capture]:
    """Every log record of the test, at DEBUG, from the root logger and any logger that keeps its own."""
    capture = Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    separate = [
        logging.getLogger(name)
        for name in ("litestar", "uvicorn", "uvicorn.error", "uvicorn.access", *logging.root.manager.loggerDict)
        if not logging.getLogger(name).propagate
    ]
    for logger in separate:
        logger.addHandler(capture)
    yield capture
    for logger in separate:
        logger.removeHandler(capture)
    root.removeHandler(capture)
    root.setLevel(level)


@pytest.fixture
def app(mail_settings: Settings, app_logs: Capture) -> Litestar:
    """The app, delivering mail to the test's SMTP server; created after the log capture starts."""
    return create_app(mail_settings)


# --- URLs the app generated ----------------------------------------------------------------------------

URL_HEADERS = ("location", "hx-redirect", "hx-location", "hx-push-url", "hx-replace-url", "content-location")


def generated_urls(response: Any) -> list[str]:
    """Every URL in a response: redirect headers, links and actions, htmx attributes, and what each GET form
    would open when sent as served."""
    urls = [response.headers[h] for h in URL_HEADERS if h in response.headers]
    if is_html(response) and response.status_code != 204:
        page = parse_page(response.text, "/")
        urls += [url for _attribute, _method, url in page.urls]
        for form in page.forms:
            if form.method == "GET":
                urls.append(f"{form.action}?{urlencode([(f.name, f.value) for f in form.fields if f.name])}")
    return urls


# --- filling in forms ----------------------------------------------------------------------------------


def filled(form: Form, value: str, *, valid: bool = True, **overrides: str) -> list[tuple[str, str]]:
    """A form sent with `value` in every free-text field; the rest as a person would fill it in to get past
    validation (valid=True) or with an impossible date (valid=False)."""
    kinds, choices = form.kinds(), form.choices()
    sent = []
    for name, old in form.defaults():
        kind = kinds.get(name, "text")
        new = old
        if kind in ("text", "textarea", "search"):
            new = value
        elif kind == "email":
            new = f"{value.lower()}@example.org" if valid else value
        elif kind in ("date", "time", "datetime-local", "number"):
            new = old or next(iter(typed_values(kind)), "")
            if kind == "date" and not valid:
                new = "2026-02-30"
        elif kind == "select" and not old:
            new = next((option for option in choices.get(name, []) if option), "")
        sent.append((name, new))
    chosen = {name for name, _v in sent}
    for name, kind in kinds.items():
        if kind == "radio" and name not in chosen and choices.get(name):
            sent.append((name, choices[name][0]))
    for name, new in overrides.items():
        sent = [(n, v) for n, v in sent if n != name] + [(name, new)]
    return sent


def form_for(harness: Harness, route_name: str, action_contains: str = "") -> tuple[Any, Form]:
    route = next(r for r in ROUTES if r.name == route_name)
    forms = [f for f in harness.forms.get(route, []) if action_contains in f.action]
    assert forms, f"no form for {route_name} (with {action_contains!r} in its action) on the pages visited"
    return route, forms[0]


async def submit(harness: Harness, role: str, route_name: str, contains: str, fields: list[tuple[str, str]]) -> Any:
    route, form = form_for(harness, route_name, contains)
    return await harness.send(Sent(role, route.method, form.action, fields), route)


# --- the run -------------------------------------------------------------------------------------------


@dataclass
class Run:
    harness: Harness
    canaries: Canaries
    cast: Any
    world: Any

    def c(self, key: str) -> str:
        return self.canaries.new(key)


async def mistakes_and_refusals(run: Run) -> None:
    """Signing in wrongly (a real account with a wrong password, an unknown one with the real password),
    searching for people by name, and pages that do not exist or are not the user's."""
    harness, cast, c = run.harness, run.cast, run.c
    for email, password in (
        ("cara@example.org", WRONG_PASSWORD),
        (c("login.email").lower() + "@example.org", PASSWORD),
    ):
        response = await harness.send(Sent("anonymous", "POST", "/login", [("email", email), ("password", password)]))
        assert response.status_code == 400
    await harness.send(Sent("anonymous", "GET", f"/core-members/{cast.core_a.public_id}"))
    await harness.send(Sent("anonymous", "GET", f"/no/such/page/{c('path.anonymous')}?q={c('query.anonymous')}"))
    for url in (
        f"/core-members?q={run.canaries.value('core_a.full_name')}",
        f"/volunteers?q={run.canaries.value('bob.name')}",
        f"/core-members/00000000-0000-0000-0000-000000000000?q={c('query.coordinator')}",
        f"/no/such/page/{c('path.coordinator')}",
    ):
        await harness.send(Sent("coordinator", "GET", url, htmx=url.startswith("/core-members?")))
    for url in (f"/circles/{cast.circle_b.public_id}", f"/core-members/{cast.core_a.public_id}", "/admin/users"):
        assert (await harness.send(Sent("volunteer", "GET", url))).status_code == 404


async def browse(run: Run) -> None:
    """Everyone opens everything they are shown; the forms they see are used next."""
    cast, world = run.cast, run.world
    starts = {
        "coordinator": [
            "/",
            "/core-members/new",
            "/volunteers/new",
            f"/core-members/{cast.core_a.public_id}",
            f"/circles/{cast.circle_a.public_id}",
            f"/circles/{cast.circle_a.public_id}/meetings/new",
            f"/volunteers/{cast.bob.public_id}",
        ],
        "admin": ["/", "/admin/users/invite"],
        "probation": ["/", *(f"/escalations/{e}" for e in world.escalations)],
        "volunteer": [
            "/",
            "/check-ins/new",
            f"/circles/{cast.circle_a.public_id}/concerns/new",
            f"/concerns/{world.concern_alice}",
            f"/meetings/{world.meeting_owed.public_id}",
        ],
    }
    for role, start in starts.items():
        await crawl(run.harness, role, start)


async def staff_forms(run: Run) -> None:
    """Staff send forms with canaries: once with an impossible date (the page comes back filled in), once
    filled in properly."""
    harness, c = run.harness, run.c
    core_a, circle_a, bob = run.cast.core_a.public_id, run.cast.circle_a.public_id, run.cast.bob.public_id
    for name, contains, key in (
        ("circles:core_member_create", "", "new.core_member"),
        ("circles:note_add", str(core_a), "new.note_private"),
        ("circles:connection_add", str(core_a), "new.risk_connection"),
        ("volunteers:create", "", "new.volunteer"),
        ("volunteers:supervision", str(bob), "new.supervision"),
        ("circles:outer_add", str(circle_a), "new.outer"),
        ("circles:meeting_create", str(circle_a), "new.meeting_venue"),
        ("circles:covenant", str(circle_a), "new.covenant"),
    ):
        _route, form = form_for(harness, name, contains)
        await submit(harness, "coordinator", name, contains, filled(form, c(key + ".invalid"), valid=False))
        await submit(harness, "coordinator", name, contains, filled(form, c(key)))
    _route, form = form_for(harness, "admin:invite_submit")
    await submit(harness, "admin", "admin:invite_submit", "", filled(form, c("new.invite.invalid"), valid=False))
    await submit(harness, "admin", "admin:invite_submit", "", filled(form, c("new.invite"), role="coordinator"))


async def alice_and_priya(run: Run) -> None:
    """Alice logs a check-in, raises an urgent concern (and one without a severity), adds to her concern,
    writes her minutes and fails to change her password to the known one; Priya acknowledges the alert
    and records what she did."""
    harness, c, world = run.harness, run.c, run.world
    circle_a, owed = str(run.cast.circle_a.public_id), str(world.meeting_owed.public_id)
    _route, form = form_for(harness, "circles:check_in_create")
    response = await submit(harness, "volunteer", "circles:check_in_create", "", filled(form, c("new.check_in")))
    assert response.status_code in (200, 303), response.text
    _route, form = form_for(harness, "circles:concern_create", circle_a)
    urgent = filled(form, c("new.concern_urgent"), severity="urgent")
    assert (await submit(harness, "volunteer", "circles:concern_create", circle_a, urgent)).status_code == 303
    no_severity = [(n, v) for n, v in filled(form, c("new.concern_invalid")) if n != "severity"]
    assert (await submit(harness, "volunteer", "circles:concern_create", circle_a, no_severity)).status_code == 400
    concern = str(world.concern_alice)
    _route, form = form_for(harness, "circles:concern_add", concern)
    await submit(harness, "volunteer", "circles:concern_add", concern, filled(form, c("new.concern_added")))
    _route, form = form_for(harness, "circles:meeting_minutes", owed)
    await submit(harness, "volunteer", "circles:meeting_minutes", owed, filled(form, c("new.minutes")))
    change = [("current_password", WRONG_PASSWORD), ("new_password", PASSWORD), ("confirm_password", PASSWORD)]
    await harness.send(Sent("volunteer", "POST", "/account/password", change))

    newest = (
        await Escalation.select(Escalation.public_id)
        .where(Escalation.officer == run.cast.probation.id)
        .order_by(Escalation.id, ascending=False)
        .first()
    )
    assert newest is not None
    alert = str(newest["public_id"])
    await crawl(harness, "probation", [f"/escalations/{alert}"])
    # The acknowledgement redirects back to the alert, which then offers the form for what was done.
    await submit(harness, "probation", "circles:escalation_acknowledge", alert, [])
    _route, form = form_for(harness, "circles:escalation_action", alert)
    await submit(harness, "probation", "circles:escalation_action", alert, filled(form, c("new.action_notes")))


def email_problems(run: Run, inbox: Inbox) -> list[str]:
    """What an email holds beyond the circle's code name and the recipient's own details."""
    problems = []
    for message in inbox.messages:
        text = f"{message['Subject']}\n{message['To']}\n{Inbox.body(message)}"
        recipient = str(message["To"]).lower()
        own = {canary.key for canary in run.canaries.items.values() if canary.pattern.search(recipient)}
        leaked = run.canaries.found(text) - CODE_NAMES - own
        if any(secret and secret in text for secret in (PASSWORD, *run.harness.browsers.tokens)):
            leaked.add("password or session token")
        if leaked:
            problems.append(f"email to {recipient} ({message['Subject']}): {sorted(leaked)}")
    return problems


async def volunteer_views(run: Run) -> list[str]:
    """What Alice and Charlie can open (every link they are shown, every page of every route with every
    real id, and everything Alice was shown so far) beyond what each may see."""
    harness, browsers = run.harness, run.harness.browsers
    pages: dict[str, list[tuple[str, Any]]] = {
        "alice": [(f"{method} {url}", r) for role, method, url, r in browsers.log or [] if role == "volunteer"],
        "charlie": [],
    }
    for viewer, browser in (("alice", "volunteer"), ("charlie", "charlie")):
        pages[viewer] += await crawl(harness, browser, ["/", "/account"])
        for route in READ_ROUTES:
            secret = {name for name, _kind in route.params} & SECRET_PARAMS
            if secret and not (viewer == "alice" and secret == {"feed_file"}):
                continue  # someone else's link token (an invitation, a calendar feed) is not theirs to open
            for path in (await harness.real_paths(route, limit=12))[:12]:
                for htmx in (False, True):
                    pages[viewer].append((path, await harness.send(Sent(browser, "GET", path, htmx=htmx), route)))
    problems = []
    for viewer, seen in pages.items():
        never = set(run.canaries.items) - ALLOWED[viewer]
        assert any(run.canaries.found(r.text, ALLOWED[viewer]) for _u, r in seen), f"{viewer} saw nothing of theirs"
        for url, response in seen:
            leaked = run.canaries.found(response.text, never)
            if leaked:
                problems.append(f"{viewer} opened {url} and saw {sorted(leaked)}")
    return problems


async def fuzz_once_more(run: Run) -> None:
    """Every write route once, with a canary in its text, as the roles that may use it and as a volunteer."""
    harness = run.harness
    for route in ROUTES:
        if route.method == "GET":
            continue
        forms = harness.forms.get(route, [])
        form = forms[0] if forms else None
        paths = await harness.real_paths(route, limit=2)
        garbage = [route.fill({n: garbage_value(k)[0] for n, k in route.params})] if route.params else []
        for role in [*sorted(route.roles - {"anonymous"}), "volunteer"]:
            for path in paths[:1] + garbage:
                await harness.send(Sent(role, route.method, path, with_text(form, FUZZ + COMPOSITE)), route)


def secrets_of(browsers: Browsers) -> dict[str, str]:
    secrets = {"the known password": PASSWORD, "a mistyped password": WRONG_PASSWORD}
    secrets |= {f"session token {t[:6]}…": t for t in browsers.tokens if t}
    for client in browsers.clients.values():
        if csrf_token(client):
            secrets[f"CSRF token {csrf_token(client)[:6]}…"] = csrf_token(client)
    return secrets


def log_problems(run: Run, logs: Capture, secrets: dict[str, str]) -> list[str]:
    problems = []
    for record, text in logs.texts():
        leaked = run.canaries.found(text) | {name for name, secret in secrets.items() if secret in text}
        if leaked:
            problems.append(f"{record.name} {record.levelname}: {sorted(leaked)} in {text[:300]!r}")
    return problems


def url_problems(run: Run, secrets: dict[str, str]) -> list[str]:
    """Canaries and secrets in URLs the app generated, unless the request's own address carried them (a
    search term the user typed; a form's `next`, the address it returns to), and the password or a session
    token anywhere in a page."""
    problems = []
    for role, method, url, response in run.harness.browsers.log or []:
        sent = parse_qsl(response.request.content.decode("utf-8", "replace"))
        typed = " ".join([unquote_plus(url), *(value for name, value in sent if name == "next")])
        for generated in generated_urls(response):
            decoded = unquote_plus(generated)
            leaked = {k for k in run.canaries.found(decoded) if not run.canaries.items[k].pattern.search(typed)}
            leaked |= {name for name, secret in secrets.items() if secret in decoded or secret in generated}
            if "_csrf_token" in generated:
                leaked.add("a CSRF token field in a GET form")
            if leaked:
                problems.append(f"{method} {url} as {role}: {sorted(leaked)} in {generated[:200]!r}")
        body = response.text if response.content else ""
        for name, secret in secrets.items():
            if not name.startswith("CSRF") and secret in body:
                problems.append(f"{method} {url} as {role}: {name} in the page")
    return problems


async def test_no_canary_password_or_token_leaks_into_logs_urls_emails_or_volunteer_pages(
    app: Litestar, make_client: Any, programme: Any, inbox: Inbox, app_logs: Capture
) -> None:
    canaries = Canaries()
    world = await seed_world(app, programme, canaries.text)
    await plant_the_rest(canaries, programme, world)
    browsers = await Browsers.open(make_client)
    await browsers.add(make_client, "charlie", "charlie@example.org", kind="volunteer")
    browsers.log = []
    harness = Harness(browsers=browsers, world=world, routes=ROUTES, exclude=acting_user_ids(programme))
    run = Run(harness, canaries, programme, world)

    await mistakes_and_refusals(run)
    await browse(run)
    await staff_forms(run)
    await alice_and_priya(run)
    await outbox.deliver_due(app.state.settings)
    assert inbox.to("priya@example.org"), "the urgent concern's alert should have reached the probation officer"
    assert not email_problems(run, inbox), "\n".join(email_problems(run, inbox))
    problems = await volunteer_views(run)
    assert not problems, "\n".join(problems)
    await fuzz_once_more(run)

    secrets = secrets_of(browsers)
    assert any(r.name == "cosa.web" for r in app_logs.records), "the capture saw no request log: is it attached?"
    problems = log_problems(run, app_logs, secrets)
    assert not problems, "\n".join(problems)
    assert len(browsers.log) > 300, "the broad run should have sent hundreds of requests"
    problems = url_problems(run, secrets)
    assert not problems, "\n".join(problems)
