"""The web shell: security headers everywhere, CSRF, error pages, the health check (SECURITY.md 10-13)."""

from __future__ import annotations

from litestar import get

from cosa.app import create_app
from cosa.auth import public
from cosa.web import CSP
from tests.integration.conftest import form_post, login

HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def assert_security_headers(response):
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, name
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_pages_carry_the_security_headers_and_are_not_cached(client, cast):
    await login(client, "cara@example.org")
    response = await client.get("/account/")
    assert_security_headers(response)
    assert response.headers["cache-control"] == "no-store"


async def test_errors_carry_the_security_headers_too(client):
    for url in ("/no-such-page", "/static/no-such-file.css", "/admin/users/not-a-uuid"):
        response = await client.get(url, follow_redirects=False)
        assert response.status_code in (303, 404), url
        assert_security_headers(response)


async def test_a_crash_shows_a_kind_500_page_with_headers_and_no_details(settings, caplog):
    @get("/crash", guards=[public])
    async def crash() -> str:
        raise RuntimeError("secret detail about a core member")

    app = create_app(settings)
    app.register(crash)
    from litestar.testing import AsyncTestClient

    async with AsyncTestClient(app=app, raise_server_exceptions=False) as client:
        response = await client.get("/crash")
    assert response.status_code == 500
    assert "Sorry, something went wrong" in response.text
    assert "secret detail" not in response.text
    assert "secret detail" not in caplog.text
    assert "RuntimeError" in caplog.text
    assert_security_headers(response)


async def test_static_files_are_compressed_and_cached_long(client):
    response = await client.get("/static/js/htmx.min.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert "immutable" in response.headers["cache-control"]
    assert response.headers["content-encoding"] == "gzip"


async def test_pages_are_never_compressed(client):
    # BREACH: a compressed page holding the CSRF token beside reflected input leaks the token by size.
    response = await client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in response.headers


async def test_a_body_that_is_not_a_form_gets_a_clear_400(client):
    await client.get("/login")
    token = client.cookies.get("csrftoken")
    for body, kind in (
        ('{"email": 1}', "application/json"),
        ("\x00\xff%%%", "application/x-www-form-urlencoded"),
        ("", "text/plain"),
    ):
        response = await client.post(
            "/login", content=body, headers={"Content-Type": kind, "x-csrftoken": token}, follow_redirects=False
        )
        assert response.status_code == 400, kind
        assert "There is a problem" in response.text


async def test_a_post_without_csrf_token_is_refused_kindly(client, cast):
    await client.get("/login")
    response = await client.post("/login", data={"email": "cara@example.org", "password": "x"}, follow_redirects=False)
    assert response.status_code == 403
    assert "This form has expired" in response.text
    assert_security_headers(response)


async def test_an_htmx_post_needs_the_csrf_header(client, cast):
    await login(client, "cara@example.org")
    token = client.cookies.get("csrftoken")
    refused = await client.post("/account/sign-out-everywhere", headers={"HX-Request": "true"}, follow_redirects=False)
    assert refused.status_code == 403
    accepted = await client.post(
        "/account/sign-out-everywhere", headers={"HX-Request": "true", "x-csrftoken": token}, follow_redirects=False
    )
    assert accepted.status_code == 303


async def test_a_forged_csrf_token_is_refused(client, cast):
    await client.get("/login")
    response = await client.post(
        "/login", data={"email": "cara@example.org", "password": "x", "_csrf_token": "0" * 128}, follow_redirects=False
    )
    assert response.status_code == 403


async def test_pages_carry_the_csrf_token_for_htmx(client, cast):
    await login(client, "cara@example.org")
    page = await client.get("/account/")
    assert 'hx-headers=\'{"x-csrftoken": "' + client.cookies.get("csrftoken") in page.text


async def test_markup_in_user_text_is_shown_inert(client, cast):
    await login(client, "ada@example.org")
    hostile = '"><img src=x onerror=alert(1)><script>alert(1)</script>{{7*7}}'
    response = await form_post(
        client,
        "/admin/users/invite",
        {"display_name": hostile, "email": "new@example.org", "role": "admin", "locale": "en_GB"},
    )
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "<script>alert(1)</script>" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;" in page.text and "{{7*7}}" in page.text


async def test_health_check_reports_the_database(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_unknown_pages_get_a_404_page_in_the_visitors_language(client):
    response = await client.get("/nothing-here", headers={"Accept-Language": "cy"})
    assert response.status_code == 404
    assert 'lang="cy"' in response.text
    assert "Page not found" not in response.text


async def test_the_dev_mail_page_does_not_exist_outside_development(client):
    assert (await client.get("/dev/mail")).status_code == 404
