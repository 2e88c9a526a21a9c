"""The admin's search of the audit trail (issue 6 item 2): by person, record, action and London dates, paged,
admins only, and itself audited (SECURITY.md 14, 15)."""

from __future__ import annotations

import ast
import html
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from cosa import audit
from cosa.audit import Action
from cosa.audit_pages import PAGE_SIZE, known_actions, object_type_labels
from cosa.tables import AuditEvent
from tests.integration.circles import conftest as circle_fixtures
from tests.integration.conftest import QueryCounter, form_post, login

URL = "/admin/audit"
ROOT = Path(__file__).resolve().parents[3]
WHEN = datetime(2026, 6, 10, 9, 30, tzinfo=UTC)  # 10:30 in London (summer time)


@pytest.fixture
async def programme(cast: Any) -> Any:
    """The circles tests' programme: circles A and B in the north with their core members and volunteers."""
    return await circle_fixtures.programme.__wrapped__(cast)


async def event(
    action: str, *, at: datetime = WHEN, actor: Any = None, kind: str = "", object_id: object = "", **detail: Any
) -> None:
    await audit.record(action, actor=actor, object_type=kind, object_id=object_id, detail=detail or None, now=at)


def results(page: str) -> str:
    """The results table only (the form repeats codes in its select boxes)."""
    start = page.find("<tbody>")
    return page[start : page.find("</tbody>", start)].replace("<wbr>", "") if start >= 0 else ""


def row_texts(page: str) -> list[str]:
    rows = results(page).split("<tr>")[1:]
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", row))).strip() for row in rows]


def actions(page: str) -> list[str]:
    return re.findall(r"<td data-label=\"Action\"><code>([a-z_.]+)</code>", results(page))


def object_ids(page: str) -> list[str]:
    return re.findall(r"object_id=([^\"&]+)\"", results(page))


def link(page: str, label: str) -> str | None:
    match = re.search(r'<a href="([^"]+)"[^>]*>' + re.escape(label) + "</a>", page)
    return html.unescape(match.group(1)) if match else None


async def viewed_rows() -> list[dict[str, Any]]:
    return await AuditEvent.select().where(AuditEvent.action == Action.AUDIT_VIEWED).output(load_json=True)


async def test_an_admin_sees_who_did_what_to_which_record_and_when_newest_first(client, programme):
    await event(Action.LOGIN_FAILED, at=WHEN - timedelta(days=2), reason="credentials")
    await event(
        Action.CORE_MEMBER_VIEWED,
        at=WHEN - timedelta(days=1),
        actor=programme.coordinator,
        kind="core_member",
        object_id=programme.core_a.public_id,
    )
    await event("escalation.notified", at=WHEN, kind="escalation", object_id="e-1", level=1, reminder=False)
    await login(client, "ada@example.org")
    page = await client.get(URL)
    assert page.status_code == 200
    assert "<h1>Audit trail</h1>" in page.text and "python -m cosa audit verify" in page.text
    rows = row_texts(page.text)
    # The admin's own sign-in is the newest; then the three events, newest first, in London time.
    mine = [row for row in rows if "Ada Admin (Administrator)" in row]
    assert mine and all("auth." in row for row in mine)
    ours = rows[len(mine) :]
    assert ours[0].startswith("10 Jun 2026, 10:30:00 System escalation.notified Escalation e-1")
    assert "level: 1" in ours[0] and "reminder: false" in ours[0]
    assert ours[1].startswith("9 Jun 2026, 10:30:00 Cara Coordinator (Coordinator) core_member.viewed Core member")
    assert str(programme.core_a.public_id) in ours[1]
    assert ours[2].startswith("8 Jun 2026, 10:30:00 Anonymous (not signed in) auth.login_failed")
    assert f"{len(rows)} events match." in page.text
    # What the trail holds is never a core member's name, and markup in a detail is shown inert.
    assert "Daniel" not in results(page.text)


async def test_markup_in_a_detail_is_shown_inert(client, cast):
    await event(Action.REGION_RENAMED, kind="region", object_id="r-1", note='"><img src=x onerror=alert(1)>{{7*7}}')
    await login(client, "ada@example.org")
    page = await client.get(URL)
    assert "<img src=x" not in page.text
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;{{7*7}}" in page.text


async def test_searching_by_email_puts_the_accounts_public_id_in_the_url_never_the_email(client, programme):
    await event(Action.CIRCLE_UPDATED, actor=programme.coordinator, kind="circle", object_id="by-cara")
    await event(Action.CIRCLE_UPDATED, actor=programme.coordinator_south, kind="circle", object_id="by-dan")
    await login(client, "ada@example.org")
    response = await form_post(client, URL, {"email": " CARA@example.org "})
    assert response.status_code == 303
    location = response.headers["location"]
    assert "cara" not in location.lower() and "%40" not in location and "@" not in location
    assert parse_qs(urlsplit(location).query) == {"user": [str(programme.coordinator.public_id)]}
    page = await client.get(location)
    assert page.status_code == 200
    assert object_ids(page.text) == ["by-cara"]
    assert 'value="cara@example.org"' in page.text  # the form shows who was chosen
    # Choosing from a row works too: the person's name links to the same search.
    everyone = await client.get(URL)
    assert f'href="{URL}?user={programme.coordinator_south.public_id}"' in everyone.text
    # An email address put in the URL by hand is not looked up.
    by_hand = await client.get(URL, params={"email": "cara@example.org", "object_type": "circle"})
    assert by_hand.status_code == 200 and sorted(object_ids(by_hand.text)) == ["by-cara", "by-dan"]
    # And from the person's page in the user admin.
    user_page = await client.get(f"/admin/users/{programme.coordinator.public_id}")
    assert link(user_page.text, "See what this person has done in the audit trail") == location
    # Staff are offered in the form as the email is typed.
    assert '<option value="dan@example.org">Dan Coordinator (Coordinator)</option>' in everyone.text
    assert "alice@example.org" not in everyone.text


async def test_it_searches_by_record_by_kind_of_record_and_by_action(client, programme):
    core = str(programme.core_a.public_id)
    await event(Action.CORE_MEMBER_VIEWED, actor=programme.coordinator, kind="core_member", object_id=core)
    await event(Action.NOTE_ADDED, actor=programme.coordinator, kind="core_member", object_id=core)
    await event(Action.CORE_MEMBER_VIEWED, actor=programme.coordinator, kind="core_member", object_id="someone-else")
    await event(Action.CIRCLE_UPDATED, actor=programme.coordinator, kind="circle", object_id=core)
    await login(client, "ada@example.org")

    # A public id typed in capitals still finds the record.
    response = await form_post(client, URL, {"object_type": "core_member", "object_id": core.upper()})
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert actions(page.text) == [Action.NOTE_ADDED, Action.CORE_MEMBER_VIEWED]

    page = await client.get(URL, params={"object_id": core})
    assert len(row_texts(page.text)) == 3 and "3 events match." in page.text

    page = await client.get(URL, params={"action": Action.CORE_MEMBER_VIEWED})
    assert sorted(object_ids(page.text)) == sorted([core, "someone-else"])

    page = await client.get(URL, params={"object_type": "circle"})
    assert object_ids(page.text) == [core] and "Circle" in results(page.text)

    page = await client.get(URL, params={"action": Action.COVENANT_SIGNED})
    assert page.status_code == 200 and "No events match this search." in page.text


async def test_dates_are_london_days_and_both_ends_are_included(client, cast):
    # British Summer Time starts on 29 March 2026: London days begin at 23:00 UTC the day before.
    await event(
        Action.REGION_CREATED, at=datetime(2026, 3, 31, 22, 59, tzinfo=UTC), kind="region", object_id="31-march-late"
    )
    await event(
        Action.REGION_CREATED, at=datetime(2026, 3, 31, 23, 0, tzinfo=UTC), kind="region", object_id="1-april-first"
    )
    await event(
        Action.REGION_CREATED,
        at=datetime(2026, 4, 30, 22, 59, 59, 999999, tzinfo=UTC),
        kind="region",
        object_id="30-april-last",
    )
    await event(Action.REGION_CREATED, at=datetime(2026, 4, 30, 23, 0, tzinfo=UTC), kind="region", object_id="1-may")
    # In winter London is on UTC.
    await event(Action.REGION_CREATED, at=datetime(2026, 1, 5, 0, 0, tzinfo=UTC), kind="region", object_id="5-january")
    await login(client, "ada@example.org")
    response = await form_post(client, URL, {"date_from": "2026-04-01", "date_to": "2026-04-30"})
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert object_ids(page.text) == ["30-april-last", "1-april-first"]
    assert 'value="2026-04-01"' in page.text and 'value="2026-04-30"' in page.text
    one_day = await client.get(URL, params={"date_from": "2026-01-05", "date_to": "2026-01-05"})
    assert object_ids(one_day.text) == ["5-january"]
    until = await client.get(URL, params={"date_to": "2026-03-31", "object_type": "region"})
    assert object_ids(until.text) == ["31-march-late", "5-january"]


async def test_bad_dates_are_explained_beside_the_field_and_kept(client, cast):
    await login(client, "ada@example.org")
    response = await form_post(client, URL, {"date_from": "2026-02-30", "object_id": "kept-id"})
    assert response.status_code == 400
    assert '<p class="error-message" id="date_from-error">' in response.text
    assert "Enter a real date" in response.text
    assert 'value="2026-02-30"' in response.text and 'value="kept-id"' in response.text
    assert "<tbody>" not in response.text

    reversed_range = await form_post(client, URL, {"date_from": "2026-05-02", "date_to": "2026-05-01"})
    assert reversed_range.status_code == 400
    assert '<p class="error-message" id="date_to-error">' in reversed_range.text
    assert "The end date must be the same as or after the start date." in reversed_range.text
    assert 'value="2026-05-02"' in reversed_range.text and 'value="2026-05-01"' in reversed_range.text

    # The same checks apply to a URL edited by hand.
    by_url = await client.get(URL, params={"date_from": "yesterday", "date_to": "2026-05-01"})
    assert by_url.status_code == 400 and 'id="date_from-error"' in by_url.text and 'value="yesterday"' in by_url.text
    extreme = await client.get(URL, params={"date_from": "0001-01-01", "date_to": "9999-12-31"})
    assert extreme.status_code == 200


async def test_other_bad_filters_are_explained_and_kept(client, cast):
    await login(client, "ada@example.org")
    unknown = await form_post(client, URL, {"email": "nobody@example.org"})
    assert unknown.status_code == 400 and 'id="email-error"' in unknown.text
    assert "No account has this email address." in unknown.text and 'value="nobody@example.org"' in unknown.text
    malformed = await form_post(client, URL, {"email": "not an email"})
    assert malformed.status_code == 400 and "in the right format" in malformed.text
    for params, field in (
        ({"user": "not-a-uuid"}, "email"),
        ({"user": "00000000-0000-4000-8000-000000000000"}, "email"),
        ({"action": "<script>"}, "action"),
        ({"object_type": "Core Member"}, "object_type"),
        ({"object_id": "x" * 65}, "object_id"),
        ({"object_id": "two words"}, "object_id"),
    ):
        response = await client.get(URL, params=params)
        assert response.status_code == 400, params
        assert f'id="{field}-error"' in response.text, params
        assert "<script>" not in response.text.split("<main", 1)[1]
    # A code the lists do not know yet (a newer feature's) still filters: the form offers it as typed.
    newer = await client.get(URL, params={"action": "export.made", "object_type": "export"})
    assert newer.status_code == 200 and '<option value="export.made" selected>' in newer.text


async def test_pages_of_fifty_walk_the_whole_result_both_ways_without_gaps(client, programme):
    # 3 events share each instant: the order then falls back on their place in the chain.
    for i in range(2 * PAGE_SIZE + 7):
        at = WHEN - timedelta(minutes=i // 3)
        await event(Action.NOTE_ADDED, at=at, actor=programme.coordinator, kind="core_member", object_id=f"n-{i:03}")
    expected = [f"n-{i:03}" for i in range(2 * PAGE_SIZE + 7)]
    # Within an instant the newest written comes first.
    expected = [oid for start in range(0, len(expected), 3) for oid in reversed(expected[start : start + 3])]
    await login(client, "ada@example.org")
    first = await client.get(URL, params={"action": Action.NOTE_ADDED})
    assert f"{2 * PAGE_SIZE + 7} events match." in first.text
    assert link(first.text, "Newer events") is None and link(first.text, "Newest events") is None
    seen = object_ids(first.text)
    pages = [first.text]
    while (older := link(pages[-1], "Older events")) is not None:
        assert "action=core_member.note_added" in older  # the filters stay with the page links
        page = await client.get(older)
        assert page.status_code == 200
        pages.append(page.text)
        seen += object_ids(page.text)
    assert [len(object_ids(p)) for p in pages] == [PAGE_SIZE, PAGE_SIZE, 7]
    assert seen == expected
    # And back again from the last page.
    back = await client.get(link(pages[-1], "Newer events"))
    assert object_ids(back.text) == expected[PAGE_SIZE : 2 * PAGE_SIZE]
    again = await client.get(link(back.text, "Newer events"))
    assert object_ids(again.text) == expected[:PAGE_SIZE] and link(again.text, "Newer events") is None
    assert link(pages[-1], "Newest events") is not None
    # A cursor that is not one of ours starts at the newest rather than failing.
    odd = await client.get(URL, params={"action": Action.NOTE_ADDED, "before": "drop table"})
    assert odd.status_code == 200 and object_ids(odd.text) == expected[:PAGE_SIZE]


async def test_a_page_costs_the_same_number_of_queries_however_many_rows_it_shows(client, programme, monkeypatch):
    await login(client, "ada@example.org")
    params = {"user": str(programme.coordinator.public_id), "date_from": "2026-01-01"}
    for i in range(3):
        await event(Action.NOTE_ADDED, actor=programme.coordinator, kind="core_member", object_id=f"few-{i}")
    counter = QueryCounter(monkeypatch)
    few = await counter.during(client.get(URL, params=params))
    for i in range(PAGE_SIZE + 10):
        await event(Action.NOTE_ADDED, actor=programme.coordinator_south, kind="core_member", object_id=f"more-{i}")
        await event(Action.NOTE_ADDED, actor=programme.coordinator, kind="core_member", object_id=f"many-{i}")
    many = await counter.during(client.get(URL, params=params))
    assert many == few
    response = await client.get(URL, params=params)
    assert len(object_ids(response.text)) == PAGE_SIZE


async def test_viewing_the_trail_is_audited_with_the_filters_used_but_not_their_values(client, programme):
    await login(client, "ada@example.org")
    response = await form_post(
        client,
        URL,
        {"email": "cara@example.org", "object_id": str(programme.core_a.public_id), "date_from": "2026-01-01"},
    )
    await client.get(response.headers["location"])
    await client.get(URL)
    first, second = await viewed_rows()
    assert first["actor"] == programme.admin.id and first["actor_role"] == "admin"
    assert first["detail"] == {"filters": ["user", "object_id", "date_from"], "page": "first"}
    assert second["detail"] == {"filters": [], "page": "first"}
    stored = str(first)
    for value in ("cara", str(programme.coordinator.public_id), str(programme.core_a.public_id), "2026-01-01"):
        assert value not in stored
    # A search refused as bad input shows nothing, so records no viewing.
    await client.get(URL, params={"date_from": "nonsense"})
    assert len(await viewed_rows()) == 2


async def test_only_admins_reach_the_trail_others_get_404_and_are_audited(client, make_client, cast):
    for email, user in (
        ("cara@example.org", cast.coordinator),
        ("priya@example.org", cast.probation),
        ("alice@example.org", cast.volunteer_a1),
    ):
        other = await make_client()
        await login(other, email)
        assert (await other.get(URL)).status_code == 404
        assert (await form_post(other, URL, {"email": "ada@example.org"})).status_code == 404
        refused = (
            await AuditEvent.select(AuditEvent.detail)
            .where(AuditEvent.action == Action.ACCESS_REFUSED, AuditEvent.actor == user.id)
            .output(load_json=True)
        )
        assert [r["detail"]["method"] for r in refused] == ["GET", "POST"]
        home = await other.get("/")
        assert f'href="{URL}"' not in home.text
    anonymous = await client.get(URL, follow_redirects=False)
    assert anonymous.status_code in (302, 303) and anonymous.headers["location"].startswith("/login")
    assert await viewed_rows() == []
    await login(client, "ada@example.org")
    home = await client.get("/")
    assert f'<a href="{URL}">Audit trail</a>' in home.text or f'href="{URL}"' in home.text


async def test_an_empty_trail_says_so(client, cast):
    await login(client, "ada@example.org")
    page = await client.get(URL, params={"object_type": "meeting"})
    assert "No events match this search." in page.text and "0 events match." in page.text
    assert link(page.text, "Clear the search and show every event") == URL


# --- the lists in the form keep up with the code --------------------------------------------------------


def _modules() -> list[ast.Module]:
    return [
        ast.parse(path.read_text())
        for package in ("cosa", "circles", "volunteers")
        for path in sorted((ROOT / package).rglob("*.py"))
        if "piccolo_migrations" not in path.parts
    ]


def _audit_calls(modules: list[ast.Module]) -> list[ast.Call]:
    return [
        node
        for module in modules
        for node in ast.walk(module)
        if isinstance(node, ast.Call)
        and (
            (
                isinstance(node.func, ast.Attribute)
                and node.func.attr == "record"
                and ast.unparse(node.func.value) == "audit"
            )
            or (isinstance(node.func, ast.Name) and node.func.id == "record")
        )
    ]


def _string_constants(body: list[ast.stmt]) -> dict[str, str]:
    return {
        target.id: node.value.value
        for node in body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_every_action_code_in_the_code_is_offered_in_the_action_filter():
    """Codes live beside their features: in classes named ...Action, in module constants passed to
    audit.record(), or written out in the call."""
    modules = _modules()
    calls = _audit_calls(modules)
    first_args = [call.args[0] for call in calls if call.args]
    codes = {arg.value for arg in first_args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)}
    names = {arg.id for arg in first_args if isinstance(arg, ast.Name)}
    for module in modules:
        codes |= {value for name, value in _string_constants(module.body).items() if name in names}
        for node in ast.walk(module):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Action"):
                codes |= set(_string_constants(node.body).values())
    assert {Action.LOGIN, "escalation.acknowledged", "indicator.added"} <= codes, "the search no longer finds the codes"
    assert codes - set(known_actions()) == set()


def test_every_kind_of_record_the_code_audits_has_a_label():
    modules = _modules()
    kinds = {
        keyword.value.value
        for call in _audit_calls(modules)
        for keyword in call.keywords
        if keyword.arg == "object_type" and isinstance(keyword.value, ast.Constant)
    }
    # Refusals name the kind of object asked for: deny(connection, "kind", id) and found_or_deny(c, row, "kind", id).
    for module in modules:
        for node in ast.walk(module):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("deny", "found_or_deny")
            ):
                position = 1 if node.func.id == "deny" else 2
                if len(node.args) > position and isinstance(node.args[position], ast.Constant):
                    kinds.add(node.args[position].value)
    kinds.discard("")
    assert {"core_member", "escalation", "user", "route"} <= kinds
    assert kinds - set(object_type_labels()) == set()
