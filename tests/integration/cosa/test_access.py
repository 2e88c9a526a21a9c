"""Deny by default: every route declares who may use it; refusals answer 404 and are audited (SECURITY.md 6-8)."""

from __future__ import annotations

import json
import uuid

from litestar.handlers import HTTPRouteHandler

from cosa.audit import Action
from cosa.tables import AuditEvent
from tests.integration.conftest import login


def test_every_route_declares_an_access_rule(app):
    undeclared = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.http_methods == {"OPTIONS"} and handler.handler_name == "options_handler":
                continue  # Litestar's automatic OPTIONS answer: lists allowed methods, reads and changes nothing
            rules = [getattr(g, "access_rule", None) for g in handler.resolve_guards()]
            if not any(rules):
                undeclared.append(f"{route.path} -> {handler.handler_name}")
    assert undeclared == []


def test_the_rule_check_would_catch_a_handler_without_a_rule(app):
    async def unguarded() -> str:
        return "open"

    handler = HTTPRouteHandler(path="/unguarded", http_method="GET")(unguarded)
    assert not any(getattr(g, "access_rule", None) for g in handler.resolve_guards())


async def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = await client.get("/admin/users/?role=volunteer", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Fadmin%2Fusers%3Frole%3Dvolunteer"


async def test_htmx_requests_from_an_expired_session_are_redirected_by_header(client):
    response = await client.get("/admin/users/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["hx-redirect"].startswith("/login")


async def test_a_volunteer_gets_404_for_admin_pages_and_it_is_audited(client, cast):
    await login(client, "alice@example.org")
    response = await client.get("/admin/users/")
    assert response.status_code == 404
    assert "Page not found" in response.text
    refused = await AuditEvent.select().where(AuditEvent.action == Action.ACCESS_REFUSED).first()
    assert refused is not None and refused["actor"] == cast.volunteer_a1.id
    detail = json.loads(refused["detail"]) if isinstance(refused["detail"], str) else refused["detail"]
    assert detail["route"] == "/admin/users"


async def test_a_coordinator_cannot_deactivate_anyone(client, cast):
    from tests.integration.conftest import form_post

    await login(client, "cara@example.org")
    response = await form_post(client, f"/admin/users/{cast.volunteer_a1.public_id}/deactivate")
    assert response.status_code == 404
    await cast.volunteer_a1.refresh()
    assert cast.volunteer_a1.is_active


async def test_an_unknown_object_is_404_and_audited(client, cast):
    await login(client, "ada@example.org")
    missing = uuid.uuid4()
    response = await client.get(f"/admin/users/{missing}")
    assert response.status_code == 404
    assert await AuditEvent.exists().where(
        AuditEvent.action == Action.ACCESS_REFUSED, AuditEvent.object_id == str(missing)
    )


async def test_identifiers_in_pages_are_random_not_sequential(client, cast):
    await login(client, "ada@example.org")
    page = await client.get("/admin/users/")
    assert f"/admin/users/{cast.volunteer_a1.public_id}" in page.text
    assert '/admin/users/1"' not in page.text and '/admin/users/2"' not in page.text
