"""Signing in and out, session rotation and timeouts, throttling (SECURITY.md 1, 2, 4, 5)."""

from __future__ import annotations

import dataclasses
import statistics
import time
from datetime import timedelta

from litestar.testing import AsyncTestClient

from cosa.app import create_app
from cosa.audit import Action
from cosa.auth import token_hash
from cosa.clock import utcnow
from cosa.tables import AuditEvent, LoginThrottle, UserSession
from tests.integration.conftest import PASSWORD, create_user, finish_second_factor, form_post, login, session_cookie


async def audit_actions() -> list[str]:
    return [row["action"] for row in await AuditEvent.select(AuditEvent.action).order_by(AuditEvent.id)]


async def test_sign_in_starts_a_session_and_goes_to_the_page_asked_for(client, cast):
    await client.get("/login?next=/account/")
    response = await form_post(
        client, "/login", {"email": "CARA@example.org ", "password": PASSWORD, "next": "/account/"}
    )
    assert response.status_code == 303
    # Staff give a second factor next (tests/integration/cosa/test_second_factor.py); the target survives it.
    assert response.headers["location"] == "/login/second-factor?next=%2Faccount%2F"
    response = await finish_second_factor(client, response, "cara@example.org")
    assert response.headers["location"] == "/account/"
    token = session_cookie(client)
    assert token and await UserSession.exists().where(UserSession.token_hash == token_hash(token))
    assert not await UserSession.exists().where(UserSession.token_hash == token)  # only the hash is stored
    page = await client.get("/account/")
    assert page.status_code == 200 and "cara@example.org" in page.text
    assert Action.LOGIN in await audit_actions()


async def test_it_never_redirects_off_site_after_sign_in(client, cast):
    await client.get("/login")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = await form_post(
            client, "/login", {"email": "cara@example.org", "password": PASSWORD, "next": target}
        )
        assert response.headers["location"] == "/login/second-factor"
        response = await finish_second_factor(client, response, "cara@example.org")
        assert response.headers["location"] == "/"


async def test_the_session_cookie_has_the_promised_flags(settings, cast):
    secure = dataclasses.replace(settings, cookie_secure=True, base_url="https://cosa.example")
    async with AsyncTestClient(app=create_app(secure), base_url="https://testserver.local") as client:
        await client.get("/login")
        response = await form_post(client, "/login", {"email": "cara@example.org", "password": PASSWORD})
    cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith("__Host-cosa_session="))
    parts = [p.strip().lower() for p in cookie.split(";")]
    assert "secure" in parts and "httponly" in parts and "samesite=lax" in parts and "path=/" in parts
    assert not any(p.startswith("domain") for p in parts)


async def test_a_planted_cookie_is_never_adopted(client, make_client, cast):
    planted = "attacker-chosen-session-value"
    client.cookies.set("cosa_session", planted, domain="testserver.local")
    assert (await client.get("/account/", follow_redirects=False)).status_code == 303
    await login(client, "cara@example.org")
    assert session_cookie(client) not in ("", planted)
    assert not await UserSession.exists().where(UserSession.token_hash == token_hash(planted))
    attacker = await make_client()
    attacker.cookies.set("cosa_session", planted, domain="testserver.local")
    assert (await attacker.get("/account/", follow_redirects=False)).status_code == 303


async def test_signing_in_again_replaces_the_session_id(client, cast):
    await login(client, "cara@example.org")
    first = session_cookie(client)
    await login(client, "cara@example.org")
    second = session_cookie(client)
    assert first != second
    assert not await UserSession.exists().where(UserSession.token_hash == token_hash(first))
    assert await UserSession.exists().where(UserSession.token_hash == token_hash(second))


async def test_unknown_user_and_wrong_password_look_identical(client, cast):
    await client.get("/login")
    wrong = await form_post(client, "/login", {"email": "cara@example.org", "password": "not the password at all"})
    unknown = await form_post(client, "/login", {"email": "nobody@example.org", "password": "not the password at all"})
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.text.replace("cara@example.org", "X") == unknown.text.replace("nobody@example.org", "X")
    assert "The email address or password is not right" in wrong.text
    assert await audit_actions() == [Action.LOGIN_FAILED, Action.LOGIN_FAILED]


async def test_unknown_user_takes_as_long_as_a_wrong_password(settings, cast):
    # Realistic hashing cost, so the hash dominates the timing: an unknown user must still pay for one.
    slow = dataclasses.replace(settings, argon2_time_cost=2, argon2_memory_kib=19456)
    await create_user(slow, "slow@example.org", "coordinator")
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    async with AsyncTestClient(app=create_app(slow)) as client:
        await client.get("/login")
        for i in range(4):
            for kind, email in (("known", "slow@example.org"), ("unknown", f"ghost{i}@example.org")):
                started = time.perf_counter()
                await form_post(client, "/login", {"email": email, "password": f"wrong password {i}"})
                timings[kind].append(time.perf_counter() - started)
    known, unknown = statistics.median(timings["known"]), statistics.median(timings["unknown"])
    assert unknown > known * 0.5, (known, unknown)


async def test_the_login_form_keeps_the_email_and_explains_missing_fields(client):
    await client.get("/login")
    response = await form_post(client, "/login", {"email": "cara@example.org", "password": ""})
    assert response.status_code == 400
    assert 'value="cara@example.org"' in response.text
    assert "Enter your password." in response.text
    response = await form_post(client, "/login", {"email": "not-an-email", "password": "x"})
    assert response.status_code == 400 and "in the right format" in response.text


async def test_repeated_failures_slow_then_lock_the_account(client, cast):
    await client.get("/login")
    for _ in range(5):
        response = await form_post(client, "/login", {"email": "cara@example.org", "password": "wrong password!!"})
        assert response.status_code == 400
    # Slowed: even the right password must wait now.
    response = await form_post(client, "/login", {"email": "cara@example.org", "password": PASSWORD})
    assert response.status_code == 429 and "Too many attempts" in response.text
    assert Action.LOGIN_THROTTLED in await audit_actions()
    # Once the wait is over, the right password works and the counter resets.
    await LoginThrottle.update({LoginThrottle.locked_until: utcnow() - timedelta(seconds=1)}, force=True)
    response = await form_post(client, "/login", {"email": "cara@example.org", "password": PASSWORD})
    assert response.status_code == 303


async def test_ten_failures_lock_for_a_while_even_for_unknown_accounts(client):
    await client.get("/login")
    for _ in range(10):
        await LoginThrottle.update({LoginThrottle.locked_until: None}, force=True)  # skip the slow-down waits
        await form_post(client, "/login", {"email": "ghost@example.org", "password": "wrong password!!"})
    row = await LoginThrottle.select().where(LoginThrottle.failures >= 10).first()
    assert row is not None and row["locked_until"] > utcnow() + timedelta(minutes=14)
    response = await form_post(client, "/login", {"email": "ghost@example.org", "password": "wrong password!!"})
    assert response.status_code == 429 and "15 minutes" in response.text


async def test_sign_out_ends_the_session_and_clears_the_browser(client, cast):
    await login(client, "cara@example.org")
    token = session_cookie(client)
    response = await form_post(client, "/logout")
    assert response.status_code == 303
    assert "cache" in response.headers["clear-site-data"]
    assert not await UserSession.exists().where(UserSession.token_hash == token_hash(token))
    response = await client.get("/account/", cookies={"cosa_session": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert Action.LOGOUT in await audit_actions()


async def test_sign_out_is_not_possible_by_get(client, cast):
    await login(client, "cara@example.org")
    response = await client.get("/logout")
    assert response.status_code == 405
    assert (await client.get("/account/")).status_code == 200


async def test_staff_sessions_end_after_thirty_idle_minutes(client, cast):
    await login(client, "cara@example.org")
    await UserSession.update({UserSession.last_seen_at: utcnow() - timedelta(minutes=31)}, force=True)
    response = await client.get("/account/", follow_redirects=False)
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "signed out after a period without activity" in page.text


async def test_volunteer_sessions_last_longer_but_not_forever(client, cast):
    await login(client, "alice@example.org")
    await UserSession.update({UserSession.last_seen_at: utcnow() - timedelta(minutes=31)}, force=True)
    assert (await client.get("/account/", follow_redirects=False)).status_code == 200
    await UserSession.update({UserSession.last_seen_at: utcnow() - timedelta(hours=5)}, force=True)
    assert (await client.get("/account/", follow_redirects=False)).status_code == 303


async def test_sessions_end_at_the_absolute_limit_however_active(client, cast):
    await login(client, "alice@example.org")
    row = await UserSession.select().first()
    assert row["expires_at"] - row["created_at"] <= timedelta(hours=12)
    await UserSession.update({UserSession.expires_at: utcnow() - timedelta(seconds=1)}, force=True)
    assert (await client.get("/account/", follow_redirects=False)).status_code == 303


async def test_sign_out_everywhere_ends_every_device(client, make_client, cast):
    phone = await make_client()
    await login(client, "alice@example.org")
    await login(phone, "alice@example.org")
    response = await form_post(client, "/account/sign-out-everywhere")
    assert response.status_code == 303
    assert (await phone.get("/account/", follow_redirects=False)).status_code == 303
    assert (await client.get("/account/", follow_redirects=False)).status_code == 303


async def test_deactivation_ends_sessions_and_stops_sign_in(client, make_client, cast):
    volunteer = await make_client()
    await login(volunteer, "alice@example.org")
    await login(client, "ada@example.org")
    response = await form_post(client, f"/admin/users/{cast.volunteer_a1.public_id}/deactivate")
    assert response.status_code == 303
    assert (await volunteer.get("/account/", follow_redirects=False)).status_code == 303
    await volunteer.get("/login")
    response = await form_post(volunteer, "/login", {"email": "alice@example.org", "password": PASSWORD})
    assert response.status_code == 400


async def test_a_role_change_ends_that_users_sessions(client, make_client, cast):
    coordinator = await make_client()
    await login(coordinator, "cara@example.org")
    await login(client, "ada@example.org")
    response = await form_post(client, f"/admin/users/{cast.coordinator.public_id}/role", {"role": "volunteer"})
    assert response.status_code == 303
    assert (await coordinator.get("/account/", follow_redirects=False)).status_code == 303


async def test_changing_password_checks_the_old_one_and_signs_out_elsewhere(client, make_client, cast):
    other = await make_client()
    await login(other, "cara@example.org")
    await login(client, "cara@example.org")
    response = await form_post(
        client,
        "/account/password",
        {
            "current_password": "wrong wrong wrong",
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
    )
    assert response.status_code == 400 and "Your current password is not right." in response.text
    response = await form_post(
        client,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm_password": "a brand new passphrase",
        },
    )
    assert response.status_code == 303
    assert (await client.get("/account/")).status_code == 200
    assert (await other.get("/account/", follow_redirects=False)).status_code == 303
