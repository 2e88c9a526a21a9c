"""Admins invite people; the invitation is a one-time link by email that sets the password."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from cosa import outbox
from cosa.audit import Action
from cosa.clock import utcnow
from cosa.tables import AuditEvent, Invitation, OutboxMessage, Region, User
from tests.integration.conftest import form_post, login

INVITE = {"display_name": "Nia Evans", "email": "Nia@Example.org", "role": "coordinator", "locale": "cy"}


async def invite(client, data=None):
    await login(client, "ada@example.org")
    north = await Region.select(Region.public_id).where(Region.name == "North").first()
    return await form_post(client, "/admin/users/invite", data or {**INVITE, "region": str(north["public_id"])})


async def test_inviting_writes_the_user_the_email_and_the_audit_row_together(mail_client, mail_settings, inbox, cast):
    response = await invite(mail_client)
    assert response.status_code == 303
    user = await User.objects().where(User.email == "nia@example.org").first()
    assert user is not None and user.password_hash == "" and user.role == "coordinator"
    assert user.region is not None
    assert await OutboxMessage.count().where(OutboxMessage.recipient == "nia@example.org") == 1
    assert await AuditEvent.exists().where(
        AuditEvent.action == Action.USER_INVITED, AuditEvent.object_id == str(user.public_id)
    )
    report = await outbox.deliver_due(mail_settings)
    assert report.sent == 1
    [message] = inbox.to("nia@example.org")
    assert "CoSA Circles" in message["Subject"]
    assert "Nia Evans" in inbox.body(message)
    assert "cyfrinair" in inbox.body(message).lower()  # in the language chosen for them


async def test_an_invited_person_sets_a_password_once_and_signs_in(
    mail_client, mail_settings, inbox, make_client, cast
):
    await invite(mail_client)
    await outbox.deliver_due(mail_settings)
    link = inbox.link_in(inbox.to("nia@example.org")[0])
    path = urlsplit(link).path
    newcomer = await make_client()
    page = await newcomer.get(path)
    assert page.status_code == 200 and "nia@example.org" in page.text
    token = path.rsplit("/", 1)[1]

    weak = await form_post(
        newcomer, "/invitation/", {"token": token, "password": "password", "confirm_password": "password"}
    )
    assert weak.status_code == 400
    mismatch = await form_post(
        newcomer,
        "/invitation/",
        {"token": token, "password": "a long enough phrase", "confirm_password": "another phrase here"},
    )
    assert mismatch.status_code == 400 and "not the same" in mismatch.text
    done = await form_post(
        newcomer,
        "/invitation/",
        {"token": token, "password": "a long enough phrase", "confirm_password": "a long enough phrase"},
    )
    assert done.status_code == 303
    assert (await newcomer.get(path)).status_code == 404  # used once
    again = await form_post(
        newcomer,
        "/invitation/",
        {"token": token, "password": "another long phrase", "confirm_password": "another long phrase"},
    )
    assert again.status_code == 404
    await login(newcomer, "nia@example.org", "a long enough phrase")


async def test_an_expired_link_does_not_work(mail_client, mail_settings, inbox, make_client, cast):
    await invite(mail_client)
    await outbox.deliver_due(mail_settings)
    path = urlsplit(inbox.link_in(inbox.messages[0])).path
    await Invitation.update({Invitation.expires_at: utcnow() - timedelta(minutes=1)}, force=True)
    page = await (await make_client()).get(path)
    assert page.status_code == 404 and "no longer works" in page.text


async def test_resending_replaces_the_earlier_link(mail_client, mail_settings, inbox, make_client, cast):
    await invite(mail_client)
    user = await User.objects().where(User.email == "nia@example.org").first()
    assert (await form_post(mail_client, f"/admin/users/{user.public_id}/resend")).status_code == 303
    await outbox.deliver_due(mail_settings)
    first, second = (urlsplit(inbox.link_in(m)).path for m in inbox.to("nia@example.org"))
    visitor = await make_client()
    assert (await visitor.get(first)).status_code == 404
    assert (await visitor.get(second)).status_code == 200


async def test_a_deactivated_persons_link_does_not_work(mail_client, mail_settings, inbox, make_client, cast):
    await invite(mail_client)
    user = await User.objects().where(User.email == "nia@example.org").first()
    await form_post(mail_client, f"/admin/users/{user.public_id}/deactivate")
    await outbox.deliver_due(mail_settings)
    path = urlsplit(inbox.link_in(inbox.to("nia@example.org")[0])).path
    assert (await (await make_client()).get(path)).status_code == 404


async def test_the_invite_form_explains_problems_and_keeps_what_was_typed(client, cast):
    response = await invite(client, {"display_name": "", "email": "not an email", "role": "emperor", "locale": "cy"})
    assert response.status_code == 400
    volunteer = await form_post(client, "/admin/users/invite", {**INVITE, "role": "volunteer"})
    assert volunteer.status_code == 400 and "Choose a role." in volunteer.text
    no_region = await form_post(client, "/admin/users/invite", INVITE)
    assert no_region.status_code == 400 and "Choose the region they work in." in no_region.text
    assert "Enter the person" in response.text
    assert "in the right format" in response.text
    assert "Choose a role." in response.text
    assert 'value="not an email"' in response.text
    north = await Region.select(Region.public_id).where(Region.name == "North").first()
    duplicate = await form_post(
        client, "/admin/users/invite", {**INVITE, "email": "alice@example.org", "region": str(north["public_id"])}
    )
    assert duplicate.status_code == 400 and "already an account" in duplicate.text
    assert 'value="Nia Evans"' in duplicate.text
    assert await OutboxMessage.count() == 0


async def test_admins_cannot_lock_themselves_out(client, cast):
    await login(client, "ada@example.org")
    response = await form_post(client, f"/admin/users/{cast.admin.public_id}/deactivate")
    assert response.status_code == 400
    response = await form_post(client, f"/admin/users/{cast.admin.public_id}/role", {"role": "volunteer"})
    assert response.status_code == 400
    await cast.admin.refresh()
    assert cast.admin.is_active and cast.admin.role == "admin"


async def test_the_user_list_filters_by_role_and_status(client, cast):
    await login(client, "ada@example.org")
    page = await client.get("/admin/users/?role=probation")
    assert "Priya Probation" in page.text and "Alice Volunteer" not in page.text
    fragment = await client.get("/admin/users/?role=volunteer", headers={"HX-Request": "true"})
    assert "<html" not in fragment.text and "Alice Volunteer" in fragment.text
    empty = await client.get("/admin/users/?status=deactivated")
    assert "No users match these filters." in empty.text
