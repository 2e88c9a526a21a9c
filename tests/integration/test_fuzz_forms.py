"""Hostile input to every form and htmx endpoint, as every role (SECURITY.md 11 and 13).

Every route in the app's route table is fuzzed: each write route in its own test (its changes stay in its
own database), every GET route together in one, with random query strings. Requests carry the CSRF token,
so they reach the handlers, and path parameters hold the public ids of seeded rows as well as garbage.
Whatever is sent, the app answers without a server error, markup or template syntax (sent now, or stored
earlier by the seed) comes back inert, and a request without a valid CSRF token is refused with 403.

Profiles (COSA_FUZZ_PROFILE): "ci" (the default: derandomised, so every run sends the same requests),
"random" (new examples each run) and "thorough" (many more examples and shrinking, for a long run by hand).
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.integration.circles import conftest as circles_fixtures
from tests.integration.fuzz_support import (
    COMPOSITE,
    EXTRA_FIELD_NAMES,
    HOSTILE,
    RAW_BODIES,
    READ_ROUTES,
    ROLES,
    ROUTES,
    SCRIPT,
    Form,
    Harness,
    Route,
    Sent,
    discover_forms,
    open_harness,
    response_problems,
    typed_values,
    with_text,
)

_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,  # nothing written into the working tree
    "print_blob": True,
    "suppress_health_check": list(HealthCheck),
}
# Shrinking replays requests hundreds of times; the bounded profiles report the first failing request as it was.
_BOUNDED = (Phase.explicit, Phase.reuse, Phase.generate)
hypothesis_settings.register_profile("cosa-fuzz-ci", max_examples=12, derandomize=True, phases=_BOUNDED, **_COMMON)
hypothesis_settings.register_profile("cosa-fuzz-random", max_examples=12, phases=_BOUNDED, **_COMMON)
hypothesis_settings.register_profile("cosa-fuzz-thorough", max_examples=200, **_COMMON)
PROFILE = hypothesis_settings.get_profile("cosa-fuzz-" + os.environ.get("COSA_FUZZ_PROFILE", "ci"))
# The GET routes share one test and one database, so they get more examples between them.
READ_PROFILE = hypothesis_settings(PROFILE, max_examples=PROFILE.max_examples * 12)

programme = circles_fixtures.programme  # the circles tests' fixture: circles A and B with their volunteers
WRITE_ROUTES = [r for r in ROUTES if r.method != "GET"]
MAX_URL = 8000
# NUL, bytes that are not UTF-8 and a lone surrogate written as UTF-8: what no browser sends, but anyone can.
RAW_QUERY_VALUE = "a%00b%ff%fe%ED%A0%80%0D%0A"


# --- strategies ------------------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
LONG_TEXT = st.builds(
    lambda unit, n: (unit * n)[:n], st.sampled_from(["A", "<b>", "é", "🙂", SCRIPT, "\x00"]), st.integers(256, 6000)
)


def value_for(kind: str, choices: list[str]) -> st.SearchStrategy[str]:
    options: list[st.SearchStrategy[str]] = [st.sampled_from(HOSTILE), TEXT, LONG_TEXT, st.just(COMPOSITE)]
    if choices:
        options += [st.sampled_from(choices)] * 2
    typed = typed_values(kind)
    if typed:
        options += [st.sampled_from(typed)] * 2
    return st.one_of(options)


@st.composite
def form_payload(draw: Any, forms: list[Form]) -> list[tuple[str, str]]:
    """A form as a browser would send it with some fields changed, dropped, repeated or added."""
    form = draw(st.sampled_from(forms)) if forms else Form("POST", "/")
    choices, kinds = form.choices(), form.kinds()
    sent: list[tuple[str, str]] = []
    for name, value in form.defaults():
        action = draw(st.sampled_from(["keep", "keep", "change", "change", "drop", "repeat"]))
        if action == "drop":
            continue
        if action == "keep":
            sent.append((name, value))
            continue
        new = draw(value_for(kinds.get(name, "text"), choices.get(name, [])))
        sent.append((name, new))
        if action == "repeat":
            sent.append((name, draw(value_for(kinds.get(name, "text"), choices.get(name, [])))))
    extras = draw(st.lists(st.one_of(st.sampled_from(EXTRA_FIELD_NAMES), TEXT.filter(bool)), max_size=3))
    for name in extras:
        sent.append((name, draw(value_for("text", []))))
    return sent


@st.composite
def random_payload(draw: Any, names: list[str]) -> list[tuple[str, str]]:
    """Random names (the form's and others) with random values, in any number and order."""
    pool = names + list(EXTRA_FIELD_NAMES)
    chosen = draw(st.lists(st.one_of(st.sampled_from(pool), TEXT), max_size=12))
    return [(name, draw(value_for("text", []))) for name in chosen]


# --- write routes: one test each -------------------------------------------------------------------


@pytest.fixture(params=WRITE_ROUTES, ids=str)
def write_route(request: pytest.FixtureRequest) -> Route:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
async def write_harness(write_route: Route, app: Any, make_client: Any, programme: Any) -> Harness:
    harness = await open_harness(app, make_client, programme)
    await discover_forms(harness, write_route)
    await baseline_write(harness, write_route)
    await harness.freeze([write_route])
    return harness


async def baseline_write(harness: Harness, route: Route) -> None:
    """Every role sends the form with markup in every text field (and a role that may use the route also
    sends it as served, and to garbage ids); then a visitor and one role that may use it send it without a
    CSRF token and with forged ones, which must be refused with 403, not a server error."""
    forms = harness.forms.get(route, [])
    form = forms[0] if forms else None
    paths = await harness.real_paths(route) or harness.garbage_paths(route)
    allowed = [role for role in ROLES if role in route.roles]
    for role in ROLES:
        if role not in route.roles:
            await harness.send(Sent(role, route.method, paths[0], with_text(form, COMPOSITE)), route)
            continue
        for path in paths[:3]:
            before = len(harness.reached)
            await harness.send(Sent(role, route.method, path, with_text(form, COMPOSITE)), route)
            await harness.send(Sent(role, route.method, path, form.defaults() if form else []), route)
            if len(harness.reached) > before:
                break
        if role == allowed[0]:
            for path in harness.garbage_paths(route):
                await harness.send(Sent(role, route.method, path, with_text(form, COMPOSITE)), route)
    for role in {"anonymous", *allowed[:1]}:
        for csrf in ("missing", "wrong", "odd"):
            sent = Sent(role, route.method, paths[0], form.defaults() if form else [], csrf=csrf)
            response = await harness.browsers.request(
                role, route.method, sent.url, fields=sent.fields, csrf=csrf, htmx=csrf == "wrong"
            )
            assert response.status_code == 403, f"{sent.describe()} -> {response.status_code}, expected 403"
            assert not response_problems(response), response_problems(response)
    assert route in harness.reached, (
        f"no request to {route} as {sorted(route.roles)} reached its handler (all were refused or not found): "
        f"seed what it acts on in fuzz_support.seed_world. Paths tried: {paths[:3]}"
    )


@hypothesis_settings(PROFILE)
@given(data=st.data())
async def test_a_write_route_survives_hostile_input_from_every_role(
    write_route: Route, write_harness: Harness, data: st.DataObject
) -> None:
    route, harness = write_route, write_harness
    role = data.draw(st.sampled_from(ROLES), label="role")
    paths = harness.fixed_paths(route)
    path = data.draw(
        st.one_of(st.sampled_from(paths or ["/"]), st.sampled_from(harness.garbage_paths(route) or ["/"]))
        if route.params
        else st.sampled_from(paths or [route.template]),
        label="path",
    )
    mode = data.draw(st.sampled_from(["form", "form", "form", "random", "raw"]), label="mode")
    forms = harness.forms.get(route, [])
    sent = Sent(role, route.method, path, htmx=data.draw(st.booleans(), label="htmx"))
    if mode == "raw":
        sent.raw = data.draw(st.sampled_from(RAW_BODIES), label="raw")
    elif mode == "random":
        names = sorted({f.name for form in forms for f in form.fields if f.name})
        sent.fields = data.draw(random_payload(names), label="fields")
    else:
        sent.fields = data.draw(form_payload(forms), label="fields")
    await harness.send(sent, route)


# --- read routes: one test, one database -----------------------------------------------------------


@pytest.fixture
async def read_harness(app: Any, make_client: Any, programme: Any) -> Harness:
    harness = await open_harness(app, make_client, programme)
    await baseline_read(harness)
    await harness.freeze(READ_ROUTES)
    return harness


async def baseline_read(harness: Harness) -> None:
    """Every GET route, as every role, with real ids and then with garbage, and with a hostile query. All
    problems are reported together."""
    harness.collect = []
    for route in READ_ROUTES:
        paths = await harness.real_paths(route, limit=3)
        allowed = [role for role in ROLES if role in route.roles]
        for role in ROLES:
            for path in paths[:3] if role in route.roles else paths[:1]:
                await harness.send(Sent(role, "GET", path), route)
            garbage = harness.garbage_paths(route)
            for path in garbage if allowed and role == allowed[0] else garbage[:3]:
                await harness.send(Sent(role, "GET", path), route)
    for route in READ_ROUTES:
        names = sorted(harness.queries.get(route, set()) | {"q"})
        for role in ROLES:
            for path in (await harness.real_paths(route, limit=1))[:1]:
                for value in (quote(COMPOSITE, safe=""), RAW_QUERY_VALUE):
                    query = "&".join(f"{n}={value}" for n in names)
                    await harness.send(Sent(role, "GET", f"{path}?{query}", htmx=role == "coordinator"), route)
    problems, harness.collect = harness.collect, None
    assert not problems, "\n".join(problems)
    assert harness.escaped > 20, "the seeded markup should show (escaped) on many pages: is the seed still planting it?"
    missing = [str(r) for r in READ_ROUTES if r not in harness.reached and r.roles]
    assert not missing, f"no request reached these GET handlers: {missing}; seed what they show in seed_world"


@hypothesis_settings(READ_PROFILE)
@given(data=st.data())
async def test_every_get_route_survives_hostile_query_strings_from_every_role(
    read_harness: Harness, data: st.DataObject
) -> None:
    harness = read_harness
    route = data.draw(st.sampled_from(READ_ROUTES), label="route")
    role = data.draw(st.sampled_from(ROLES), label="role")
    paths = harness.fixed_paths(route)
    garbage = harness.garbage_paths(route)
    path = data.draw(st.sampled_from(paths + garbage if paths + garbage else [route.template]), label="path")
    names = [*sorted(harness.queries.get(route, set())), "q", "next", "state", "page"]
    pairs = data.draw(
        st.lists(
            st.tuples(st.one_of(st.sampled_from(names), TEXT), value_for("text", [])),
            max_size=5,
        ),
        label="query",
    )
    raw_query = data.draw(st.sampled_from(["", "%ff%fe=%ED%A0%80", "a=%zz&&=&b", "q=" + "%41" * 2000]), label="raw")
    query = "&".join(q for q in (urlencode(pairs), raw_query) if q)
    # Servers refuse addresses past about 8 KB; the cut may split a %-escape, which is one more thing to try.
    url = (f"{path}?{query}" if query else path)[:MAX_URL]
    await harness.send(Sent(role, "GET", url, htmx=data.draw(st.booleans(), label="htmx")), route)


def test_the_route_table_gives_every_route_to_the_fuzzer() -> None:
    """New routes are fuzzed without being listed, and the fuzzer knows which roles each one lets in."""
    assert {"POST /circles/{public_id:uuid}/edit", "GET /core-members", "POST /login"} <= {str(r) for r in ROUTES}
    assert all(r.roles for r in ROUTES), [str(r) for r in ROUTES if not r.roles]


async def test_an_address_too_long_to_carry_through_sign_in_is_left_out_of_the_redirect(client: Any) -> None:
    """Found by the fuzzer: the sign-in redirect repeated any address, however long, in its Location header."""
    response = await client.get("/?q=" + "%F0%9F%99%82" * 3000, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    short = await client.get("/?q=x", follow_redirects=False)
    assert short.headers["location"] == "/login?next=%2F%3Fq%3Dx"


@pytest.mark.parametrize("forged", ["é" * 65, "é" * 200, "\u2603" * 129])
async def test_a_forged_csrf_token_outside_ascii_is_refused_not_a_server_error(client: Any, forged: str) -> None:
    """Found by the fuzzer: Litestar compared such tokens with hmac.compare_digest, which raises on them."""
    await client.get("/login")
    response = await client.post(
        "/login", data={"_csrf_token": forged, "email": "ada@example.org", "password": "x"}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "This form has expired" in response.text


@pytest.mark.parametrize("path", ["%00", "A" * 300, "css/app.css/inside-a-file", "css/" + "B" * 5000])
async def test_a_static_file_address_no_file_could_have_is_not_found(client: Any, path: str) -> None:
    """Found by the fuzzer: Litestar's static files router answered these with a server error."""
    response = await client.get(f"/static/{path}")
    assert response.status_code == 404
    assert "Page not found" in response.text
