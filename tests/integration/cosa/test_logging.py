"""No personal data, passwords, tokens or session ids in the application's logs (SECURITY.md 15)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from cosa import outbox
from tests.integration.conftest import PASSWORD, form_post, login, session_cookie


async def test_a_busy_session_leaves_nothing_personal_in_the_logs(mail_client, mail_settings, inbox, cast, caplog):
    caplog.set_level(logging.DEBUG)
    secret_password = "my very secret passphrase"
    await mail_client.get("/login")
    await form_post(mail_client, "/login", {"email": "cara@example.org", "password": "a wrong password here"})
    await form_post(mail_client, "/login", {"email": "ghost@example.org", "password": secret_password})
    await login(mail_client, "ada@example.org")
    token = session_cookie(mail_client)
    await form_post(
        mail_client,
        "/admin/users/invite",
        {"display_name": "Nia Canary", "email": "nia.canary@example.org", "role": "admin", "locale": "cy"},
    )
    await form_post(
        mail_client, "/admin/users/invite", {"display_name": "", "email": "bad@@canary", "role": "x", "locale": "x"}
    )
    await mail_client.get("/admin/users/00000000-0000-0000-0000-000000000000")
    await mail_client.get("/no/such/page")
    await outbox.deliver_due(mail_settings)
    link_token = urlsplit(inbox.link_in(inbox.messages[0])).path.rsplit("/", 1)[1]
    await mail_client.get(f"/invitation/{link_token}")

    app_logs = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore")))
    assert "POST /login 400" in app_logs  # the log is there, just without personal data
    for canary in (
        "cara@example.org",
        "ghost@example.org",
        "ada@example.org",
        "nia.canary",
        "Nia Canary",
        "bad@@canary",
        secret_password,
        PASSWORD,
        token,
        link_token,
    ):
        assert canary not in app_logs, canary
