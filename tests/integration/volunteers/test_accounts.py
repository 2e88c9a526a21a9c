"""A coordinator gives a trained volunteer their sign-in account: an invitation by email, linked to them."""

from __future__ import annotations

from urllib.parse import urlsplit

from cosa import outbox
from cosa.audit import Action
from cosa.tables import AuditEvent, OutboxMessage, User
from tests.integration.conftest import create_user, form_post, login
from tests.integration.volunteers.helpers import add_volunteer, reload


async def test_a_trained_volunteer_gets_an_account_and_an_invitation(
    mail_client, mail_settings, inbox, make_client, cast
):
    vera = await add_volunteer(cast.north, "Vera Volunteer", email="vera@example.net", status="trained", vetted=True)
    await login(mail_client, "cara@example.org")
    page = await mail_client.get(f"/volunteers/{vera.public_id}")
    assert "They do not have an account yet." in page.text
    response = await form_post(mail_client, f"/volunteers/{vera.public_id}/account", {"locale": "cy"})
    assert response.status_code == 303
    assert response.headers["location"] == f"/volunteers/{vera.public_id}#account"
    user = await User.objects().where(User.email == "vera@example.net").first()
    assert user is not None
    assert user.role == "volunteer" and user.region == cast.north.id and user.locale == "cy"
    assert user.display_name == "Vera Volunteer" and user.password_hash == ""
    assert (await reload(vera))["user"] == user.id
    assert await AuditEvent.exists().where(AuditEvent.action == Action.USER_INVITED)
    assert await AuditEvent.exists().where(AuditEvent.action == "volunteer.account_created")

    page = await mail_client.get(f"/volunteers/{vera.public_id}")
    assert "Account created." in page.text and "Invited" in page.text and "not set a password yet" in page.text

    report = await outbox.deliver_due(mail_settings)
    assert report.sent == 1
    [message] = inbox.to("vera@example.net")
    assert "Vera Volunteer" in inbox.body(message)

    path = urlsplit(inbox.link_in(message)).path
    newcomer = await make_client()
    token = path.rsplit("/", 1)[1]
    password = "a long enough phrase"
    done = await form_post(
        newcomer, "/invitation/", {"token": token, "password": password, "confirm_password": password}
    )
    assert done.status_code == 303
    page = await mail_client.get(f"/volunteers/{vera.public_id}")
    assert 'tag-active">Active</span>' in page.text and "They set their password on" in page.text


async def test_no_account_before_they_are_trained(client, cast):
    vera = await add_volunteer(cast.north, status="in_vetting")
    await login(client, "cara@example.org")
    page = await client.get(f"/volunteers/{vera.public_id}")
    assert "You can create one once they are trained." in page.text
    assert "/account" not in page.text.split('id="account"')[1]
    response = await form_post(client, f"/volunteers/{vera.public_id}/account", {"locale": "en_GB"})
    assert response.status_code == 400
    assert "once they are trained, active or resting" in response.text
    assert (await reload(vera))["user"] is None
    assert await OutboxMessage.count() == 0


async def test_an_email_that_already_has_an_account_is_explained(client, cast, settings):
    await create_user(settings, "vera@example.net", "volunteer", name="Someone Else")
    vera = await add_volunteer(cast.north, email="vera@example.net", status="active", vetted=True)
    await login(client, "cara@example.org")
    response = await form_post(client, f"/volunteers/{vera.public_id}/account", {"locale": "en_GB"})
    assert response.status_code == 400
    assert "There is already an account with this volunteer&#39;s email address." in response.text
    assert (await reload(vera))["user"] is None
    assert await OutboxMessage.count() == 0
    assert not await AuditEvent.exists().where(AuditEvent.action == "volunteer.account_created")


async def test_a_second_account_is_not_created(client, cast):
    vera = await add_volunteer(cast.north, email="vera@example.net", status="active", vetted=True)
    await login(client, "cara@example.org")
    first = await form_post(client, f"/volunteers/{vera.public_id}/account", {"locale": "en_GB"})
    assert first.status_code == 303
    again = await form_post(client, f"/volunteers/{vera.public_id}/account", {"locale": "en_GB"})
    assert again.status_code == 400 and "They already have a sign-in account." in again.text
    assert await User.count().where(User.email == "vera@example.net") == 1
    assert await OutboxMessage.count() == 1


async def test_a_language_must_be_chosen(client, cast):
    vera = await add_volunteer(cast.north, status="trained", vetted=True)
    await login(client, "cara@example.org")
    response = await form_post(client, f"/volunteers/{vera.public_id}/account", {"locale": "fr"})
    assert response.status_code == 400 and "Choose the language for their emails." in response.text
    assert (await reload(vera))["user"] is None


async def test_leaving_closes_their_account_and_signs_them_out(client, make_client, cast):
    vera = await add_volunteer(cast.north, email="vera@example.net", status="active", vetted=True)
    await login(client, "cara@example.org")
    await form_post(client, f"/volunteers/{vera.public_id}/account", {"locale": "en_GB"})
    user = await User.objects().where(User.email == "vera@example.net").first()
    assert user is not None
    from cosa.auth import hash_password

    await User.update(
        {User.password_hash: await hash_password(client.app.state.settings, "a long enough phrase")}
    ).where(User.id == user.id)
    phone = await make_client()
    await login(phone, "vera@example.net", "a long enough phrase")
    response = await form_post(
        client, f"/volunteers/{vera.public_id}/status", {"to_status": "left", "left_reason": "no_longer_available"}
    )
    assert response.status_code == 303
    await user.refresh()
    assert not user.is_active
    assert (await phone.get("/", follow_redirects=False)).status_code == 303
    page = await client.get(f"/volunteers/{vera.public_id}")
    assert "Their sign-in account is now closed." in page.text and "Closed" in page.text
