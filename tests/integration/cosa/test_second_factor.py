"""The second factor (SECURITY.md 3): staff must use TOTP; volunteers may opt in; a code works once; recovery
codes work once; wrong codes are throttled like passwords; an administrator can reset it (audited)."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pyotp
from litestar.handlers import HTTPRouteHandler

from cosa import second_factor
from cosa.audit import Action
from cosa.auth import token_hash
from cosa.clock import utcnow
from cosa.tables import AuditEvent, RecoveryCode, User, UserSession
from tests.integration.conftest import (
    PASSWORD,
    current_code,
    enrol_second_factor,
    finish_second_factor,
    form_post,
    login,
    session_cookie,
)


async def password_only(client, email: str, next_url: str = "") -> object:
    await client.get("/login")
    data = {"email": email, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    response = await form_post(client, "/login", data)
    assert response.status_code == 303, response.text
    return response


async def actions(action: str) -> list[dict]:
    return await AuditEvent.select().where(AuditEvent.action == action).output(load_json=True)


def manual_key(page_text: str) -> str:
    found = re.search(r"data-manual-key>([A-Z2-7 ]+)<", page_text)
    assert found, "the enrolment page shows the key to type by hand"
    return found.group(1).replace(" ", "")


async def test_staff_without_a_second_factor_must_set_one_up_before_any_data(client, cast):
    response = await password_only(client, "cara@example.org", "/core-members/")
    assert response.headers["location"] == "/login/second-factor?next=%2Fcore-members%2F"
    pending_token = session_cookie(client)

    # With only the password, no data route answers: pages redirect to the second factor, htmx gets a header.
    for path in ("/", "/core-members/", "/volunteers/", "/account/"):
        page = await client.get(path, follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login/second-factor"), path
    fragment = await client.get("/core-members/", headers={"HX-Request": "true"}, follow_redirects=False)
    assert fragment.status_code == 401 and fragment.headers["hx-redirect"].startswith("/login/second-factor")

    setup = await client.get(response.headers["location"])
    assert setup.status_code == 200 and str(setup.url).endswith("/login/second-factor/setup?next=/core-members/")
    assert "<svg" in setup.text and "QR code to scan" in setup.text  # drawn here, not by an outside service
    secret = manual_key(setup.text)
    stored = await User.select(User.totp_secret).where(User.id == cast.coordinator.id).first()
    assert stored is not None and secret not in stored["totp_secret"]  # encrypted at rest

    wrong = await form_post(client, "/login/second-factor/setup", {"code": "000000", "next": "/core-members/"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.text
    assert manual_key(wrong.text) == secret  # the same key: what the user already scanned still works

    done = await form_post(
        client, "/login/second-factor/setup", {"code": pyotp.TOTP(secret).now(), "next": "/core-members/"}
    )
    assert done.status_code == 200
    codes = re.findall(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>", done.text)
    assert len(codes) == 10 and 'href="/core-members/"' in done.text
    assert session_cookie(client) != pending_token  # a new session id once fully signed in
    assert not await UserSession.exists().where(UserSession.token_hash == token_hash(pending_token))
    hashes = [row["code_hash"] for row in await RecoveryCode.select(RecoveryCode.code_hash)]
    assert len(hashes) == 10 and not any(code in h or code.replace("-", "") in h for code in codes for h in hashes)
    assert (await client.get("/core-members/")).status_code == 200
    assert await actions(Action.SECOND_FACTOR_ENABLED) and await actions(Action.LOGIN)


async def test_every_data_route_refuses_a_session_waiting_for_its_second_factor(app, client, cast):
    await password_only(client, "ada@example.org")
    allowed_pending = {"/login/second-factor", "/login/second-factor/setup"}
    checked = 0
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if not isinstance(handler, HTTPRouteHandler) or "GET" not in handler.http_methods or "{" in route.path:
                continue
            rules = [getattr(g, "access_rule", "") for g in handler.resolve_guards()]
            if any(rule.startswith("anyone") for rule in rules) or route.path in allowed_pending:
                continue
            response = await client.get(route.path, follow_redirects=False)
            assert response.status_code == 303, route.path
            assert response.headers["location"].startswith("/login/second-factor"), route.path
            checked += 1
    assert checked >= 10


async def test_a_code_works_once(client, make_client, cast):
    secret = await enrol_second_factor("priya@example.org")
    code = pyotp.TOTP(secret).now()
    await password_only(client, "priya@example.org")
    first = await form_post(client, "/login/second-factor", {"code": code})
    assert first.status_code == 303 and first.headers["location"] == "/"

    other = await make_client()
    await password_only(other, "priya@example.org")
    replay = await form_post(other, "/login/second-factor", {"code": code})
    assert replay.status_code == 400 and "used already" in replay.text
    assert (await other.get("/escalations/", follow_redirects=False)).status_code == 303
    failures = await actions(Action.LOGIN_FAILED)
    assert failures and failures[-1]["detail"] == {"reason": "second_factor"}


async def test_a_code_from_the_previous_step_is_accepted_but_not_an_older_one(cast):
    secret = second_factor.new_secret()
    now = utcnow()
    step = int(now.timestamp()) // 30
    totp = pyotp.TOTP(secret)
    assert second_factor.matching_step(secret, totp.generate_otp(step - 1), now) == step - 1
    assert second_factor.matching_step(secret, totp.generate_otp(step - 3), now) is None
    assert second_factor.matching_step(secret, "12345", now) is None
    assert second_factor.matching_step(secret, "abcdef", now) is None
    assert await second_factor.use_step(cast.admin.id, step)
    assert not await second_factor.use_step(cast.admin.id, step)  # the same step again
    assert not await second_factor.use_step(cast.admin.id, step - 1)  # or an earlier one
    assert await second_factor.use_step(cast.admin.id, step + 1)


async def test_a_recovery_code_signs_in_once(client, make_client, settings, cast):
    await enrol_second_factor("cara@example.org")
    codes = await second_factor.replace_recovery_codes(settings, cast.coordinator.id, utcnow())
    await password_only(client, "cara@example.org")
    used = await form_post(client, "/login/second-factor", {"code": codes[3].upper()})
    assert used.status_code == 303
    home = await client.get("/")
    assert "You have 9 left" in unescape(home.text)
    assert await actions(Action.RECOVERY_CODE_USED)

    again = await make_client()
    await password_only(again, "cara@example.org")
    refused = await form_post(again, "/login/second-factor", {"code": codes[3]})
    assert refused.status_code == 400


async def test_wrong_codes_are_throttled_like_passwords(client, cast):
    await enrol_second_factor("cara@example.org")
    await password_only(client, "cara@example.org")
    statuses = []
    for _ in range(12):
        response = await form_post(client, "/login/second-factor", {"code": "000000"})
        statuses.append(response.status_code)
    assert statuses[0] == 400 and statuses[-1] == 429
    assert "Too many attempts" in response.text
    assert len(await actions(Action.LOGIN_FAILED)) >= 5
    # Locked: even the right code waits now.
    secret = await enrol_second_factor("cara@example.org")
    locked = await form_post(client, "/login/second-factor", {"code": current_code(secret)})
    assert locked.status_code == 429


async def test_a_waiting_session_expires_after_ten_minutes(client, cast):
    await enrol_second_factor("cara@example.org")
    await password_only(client, "cara@example.org")
    token = session_cookie(client)
    session = await UserSession.select().where(UserSession.token_hash == token_hash(token)).first()
    assert session is not None and session["pending_second_factor"]
    assert session["expires_at"] - session["created_at"] == timedelta(minutes=10)
    await UserSession.update({UserSession.expires_at: utcnow() - timedelta(seconds=1)}).where(
        UserSession.id == session["id"]
    )
    response = await client.get("/login/second-factor", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert not response.headers["location"].startswith("/login/second-factor")


async def test_an_administrator_resets_a_lost_second_factor(client, make_client, cast):
    await enrol_second_factor("cara@example.org")
    coordinator = await make_client()
    await login(coordinator, "cara@example.org")
    await login(client, "ada@example.org")
    page = await client.get(f"/admin/users/{cast.coordinator.public_id}")
    assert "Reset two-step verification" in page.text
    reset = await form_post(client, f"/admin/users/{cast.coordinator.public_id}/second-factor/reset")
    assert reset.status_code == 303
    user = await User.select().where(User.id == cast.coordinator.id).first()
    assert user is not None and user["totp_enabled_at"] is None and user["totp_secret"] == ""
    assert not await RecoveryCode.exists().where(RecoveryCode.user == cast.coordinator.id)
    assert (await coordinator.get("/", follow_redirects=False)).status_code == 303  # signed out everywhere
    rows = await actions(Action.SECOND_FACTOR_RESET)
    assert rows and rows[0]["actor"] == cast.admin.id and rows[0]["object_id"] == str(cast.coordinator.public_id)
    # At the next sign-in they set it up again.
    response = await password_only(coordinator, "cara@example.org")
    follow = await coordinator.get(response.headers["location"], follow_redirects=False)
    assert follow.headers["location"].startswith("/login/second-factor/setup")
    # An administrator cannot reset their own.
    own = await form_post(client, f"/admin/users/{cast.admin.public_id}/second-factor/reset")
    assert own.status_code == 400


async def test_only_administrators_reset_second_factors(client, cast):
    await enrol_second_factor("priya@example.org")
    await login(client, "cara@example.org")
    response = await form_post(client, f"/admin/users/{cast.probation.public_id}/second-factor/reset")
    assert response.status_code == 404
    user = await User.select(User.totp_enabled_at).where(User.id == cast.probation.id).first()
    assert user is not None and user["totp_enabled_at"] is not None


async def test_volunteers_sign_in_with_a_password_and_may_opt_in(client, make_client, cast):
    response = await login(client, "alice@example.org")
    assert response.headers["location"] == "/"  # no second step until they choose one
    account = await client.get("/account/")
    assert "Set up two-step verification" in account.text
    setup = await client.get("/account/second-factor")
    secret = manual_key(setup.text)
    empty = await form_post(client, "/account/second-factor", {"code": ""})
    assert empty.status_code == 400 and "Enter the 6-digit code" in empty.text
    done = await form_post(client, "/account/second-factor", {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200 and len(re.findall(r"<code>", done.text)) == 10

    phone = await make_client()
    after = await form_post(phone, "/login", {"email": "alice@example.org", "password": PASSWORD})
    assert after.headers["location"] == "/login/second-factor"
    final = await finish_second_factor(phone, after, "alice@example.org")
    assert final.headers["location"] == "/"

    # Turning it off needs a current code.
    await User.update({User.totp_last_step: None}).where(User.id == cast.volunteer_a1.id)
    wrong = await form_post(client, "/account/second-factor/turn-off", {"code": "000000"})
    assert wrong.status_code == 400
    off = await form_post(client, "/account/second-factor/turn-off", {"code": pyotp.TOTP(secret).now()})
    assert off.status_code == 303
    assert await actions(Action.SECOND_FACTOR_TURNED_OFF)
    tablet = await make_client()
    assert (await password_only(tablet, "alice@example.org")).headers["location"] == "/"


async def test_staff_cannot_turn_their_second_factor_off(client, cast):
    secret = await enrol_second_factor("cara@example.org")
    await login(client, "cara@example.org")
    await User.update({User.totp_last_step: None}).where(User.id == cast.coordinator.id)
    response = await form_post(client, "/account/second-factor/turn-off", {"code": current_code(secret)})
    assert response.status_code == 400 and "must keep two-step verification" in response.text
    user = await User.select(User.totp_enabled_at).where(User.id == cast.coordinator.id).first()
    assert user is not None and user["totp_enabled_at"] is not None


async def test_new_recovery_codes_replace_the_old_ones(client, settings, cast):
    secret = await enrol_second_factor("cara@example.org")
    old = await second_factor.replace_recovery_codes(settings, cast.coordinator.id, utcnow())
    await login(client, "cara@example.org")
    await User.update({User.totp_last_step: None}).where(User.id == cast.coordinator.id)
    response = await form_post(client, "/account/second-factor/recovery-codes", {"code": current_code(secret)})
    assert response.status_code == 200
    new = re.findall(r"<code>([a-z2-9-]{14})</code>", response.text)
    assert len(new) == 10 and not set(new) & set(old)
    assert not await second_factor.use_recovery_code(settings, cast.coordinator.id, old[0], utcnow())
    assert await second_factor.use_recovery_code(settings, cast.coordinator.id, new[0], utcnow())


async def test_a_secret_sealed_under_another_key_is_unusable(settings):
    import dataclasses

    sealed = second_factor.seal(settings, "JBSWY3DPEHPK3PXP")
    assert second_factor.unseal(settings, sealed) == "JBSWY3DPEHPK3PXP"
    other = dataclasses.replace(settings, secret_key="another-secret-key-that-is-long-enough-too")
    assert second_factor.unseal(other, sealed) is None
    assert second_factor.unseal(settings, "not sealed") is None
