"""Languages: saved choice, then Accept-Language, then en-GB; a Welsh page really is Welsh."""

from __future__ import annotations

from cosa.tables import User
from tests.integration.conftest import form_post, login


async def test_english_is_the_default(client):
    page = await client.get("/login")
    assert '<html lang="en-GB">' in page.text
    assert "Sign in" in page.text


async def test_a_welsh_browser_gets_welsh_pages(client):
    page = await client.get("/login", headers={"Accept-Language": "cy-GB,cy;q=0.9,en;q=0.5"})
    assert '<html lang="cy">' in page.text
    assert "Mewngofnodi" in page.text
    assert ">Sign in<" not in page.text


async def test_the_switcher_saves_the_choice_for_anonymous_visitors(client):
    await client.get("/login")
    response = await form_post(client, "/language", {"locale": "cy", "next": "/login"})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    page = await client.get("/login", headers={"Accept-Language": "en-GB"})
    assert '<html lang="cy">' in page.text


async def test_a_signed_in_users_saved_choice_beats_the_browser(client, cast):
    await login(client, "alice@example.org")
    await form_post(client, "/language", {"locale": "cy", "next": "/account/"})
    await cast.volunteer_a1.refresh()
    assert cast.volunteer_a1.locale == "cy"
    client.cookies.delete("cosa_lang")
    page = await client.get("/account/", headers={"Accept-Language": "en"})
    assert '<html lang="cy">' in page.text


async def test_an_unknown_language_changes_nothing(client):
    await client.get("/login")
    response = await form_post(client, "/language", {"locale": "xx", "next": "https://evil.example/"})
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "cosa_lang" not in client.cookies


async def test_errors_are_in_the_users_language(client, cast):
    await User.update({User.locale: "cy"}).where(User.id == cast.coordinator.id)
    await login(client, "cara@example.org")
    await client.get("/login")
    response = await form_post(client, "/account/password", {"current_password": "", "new_password": "short"})
    assert response.status_code == 400
    assert "Enter your current password." not in response.text
