"""Circles: opening, the enforced lifecycle, the covenant, members, the outer circle, and who sees what."""

from __future__ import annotations

from circles.tables import Circle, CircleMembership, CircleTransition, OuterCircleMember
from cosa.audit import Action
from cosa.tables import AuditEvent
from tests.integration.circles.conftest import TODAY, make_core_member, make_volunteer, seat
from tests.integration.conftest import form_post, login


async def test_a_coordinator_opens_one_circle_per_core_member(client, cast):
    core = await make_core_member(cast.north)
    await login(client, "cara@example.org")
    url = f"/core-members/{core.public_id}/circles/new"
    bad = await form_post(
        client,
        url,
        {
            "code_name": "",
            "meeting_weekday": "0",
            "meeting_time": "",
            "venue_district": "??",
            "check_in_every_days": "0",
        },
    )
    assert bad.status_code == 400
    for message in (
        "Enter a code name",
        "Give both the day and the time",
        "postcode district like NG7",
        "from 1 to 60",
    ):
        assert message in bad.text
    good = await form_post(
        client,
        url,
        {
            "code_name": "Circle Rowan",
            "meeting_weekday": "0",
            "meeting_time": "18:30",
            "venue": "Community centre",
            "venue_district": "ng1",
            "check_in_every_days": "7",
        },
    )
    assert good.status_code == 303
    circle = await Circle.objects().first()
    assert circle.state == "referred" and circle.region == cast.north.id and circle.venue_district == "NG1"
    again = await form_post(client, url, {"code_name": "Circle Ash", "check_in_every_days": "7"})
    assert again.status_code == 400 and "already has an open circle" in again.text
    assert await AuditEvent.exists().where(AuditEvent.action == Action.CIRCLE_OPENED)


async def move(client, circle, state, reason=""):
    return await form_post(client, f"/circles/{circle.public_id}/transition", {"state": state, "reason": reason})


async def test_the_lifecycle_is_enforced_and_shown_as_a_timeline(client, programme):
    circle = programme.circle_a  # forming, two volunteers accepted, no covenant
    await login(client, "cara@example.org")
    refused = await move(client, circle, "active")
    assert refused.status_code == 400
    assert "at least 3 volunteers" in refused.text and "covenant must be signed" in refused.text
    skipped = await move(client, circle, "closed")
    assert skipped.status_code == 400 and "cannot move to that stage" in skipped.text

    dana = await make_volunteer(programme.north, "Dana Volunteer")
    await seat(circle, dana)
    signed = await form_post(
        client,
        f"/circles/{circle.public_id}/covenant",
        {"covenant_text": "We meet weekly.", "covenant_signed_on": TODAY.isoformat()},
    )
    assert signed.status_code == 303
    assert (await move(client, circle, "active")).status_code == 303
    no_reason = await move(client, circle, "paused")
    assert no_reason.status_code == 400 and "Give a reason" in no_reason.text
    assert (await move(client, circle, "paused", "Recalled to custody")).status_code == 303
    await circle.refresh()
    assert circle.state == "paused" and circle.state_before_pause == "active"
    assert (await move(client, circle, "active")).status_code == 303
    await circle.refresh()
    assert circle.state == "active"
    steps = (
        await CircleTransition.select(CircleTransition.to_state)
        .where(CircleTransition.circle == circle.id)
        .order_by(CircleTransition.id)
    )
    assert [s["to_state"] for s in steps] == ["forming", "active", "paused", "active"]
    page = await client.get(f"/circles/{circle.public_id}")
    assert "Recalled to custody" in page.text and "Paused to Active" in page.text
    assert await AuditEvent.count().where(AuditEvent.action == Action.CIRCLE_TRANSITION) == 3


async def test_terminating_needs_a_reason_and_finishes_the_circle(client, programme):
    await login(client, "cara@example.org")
    assert (await move(client, programme.circle_b, "terminated")).status_code == 400
    assert (await move(client, programme.circle_b, "terminated", "Core member moved abroad")).status_code == 303
    page = await client.get(f"/circles/{programme.circle_b.public_id}")
    assert "This circle has finished." in page.text and "Core member moved abroad" in page.text


async def test_each_covenant_is_a_new_version(client, programme):
    await login(client, "cara@example.org")
    url = f"/circles/{programme.circle_a.public_id}/covenant"
    missing = await form_post(client, url, {"covenant_text": "", "covenant_signed_on": ""})
    assert missing.status_code == 400 and "Enter the text of the covenant" in missing.text
    await form_post(client, url, {"covenant_text": "First", "covenant_signed_on": TODAY.isoformat()})
    await form_post(client, url, {"covenant_text": "Second", "covenant_signed_on": TODAY.isoformat()})
    await programme.circle_a.refresh()
    assert programme.circle_a.covenant_version == 2 and programme.circle_a.covenant_text == "Second"


async def test_the_outer_circle_lists_professionals(client, programme):
    await login(client, "cara@example.org")
    url = f"/circles/{programme.circle_a.public_id}/outer"
    bad = await form_post(client, url, {"outer_name": "", "organisation": "", "outer_email": "nope"})
    assert bad.status_code == 400 and "Enter their organisation." in bad.text
    assert (
        await form_post(
            client, url, {"outer_name": "Sgt Jones", "organisation": "Police", "outer_email": "jones@police.example"}
        )
    ).status_code == 303
    member = await OuterCircleMember.objects().first()
    assert member.name == "Sgt Jones"
    assert (await form_post(client, f"{url}/{member.public_id}/remove")).status_code == 303
    assert await OuterCircleMember.count() == 0


async def test_a_volunteer_accepts_an_invitation_from_their_own_account(client, make_client, programme):
    dana_user = programme.volunteer_b  # reuse a volunteer login for a new volunteer record
    dana = await make_volunteer(programme.north, "Dana Volunteer")
    await Circle.update({Circle.state: "forming"}).where(Circle.id == programme.circle_a.id)
    await login(client, "cara@example.org")
    response = await form_post(
        client, f"/circles/{programme.circle_a.public_id}/invite", {"volunteer": str(dana.public_id)}
    )
    assert response.status_code == 303
    twice = await form_post(
        client,
        f"/circles/{programme.circle_a.public_id}/invite",
        {"volunteer": str(dana.public_id)},
        headers={"HX-Request": "true"},
    )
    assert twice.status_code == 400 and "already invited" in twice.text
    from volunteers.tables import Volunteer

    await Volunteer.update({Volunteer.user: None}).where(Volunteer.user == dana_user.id)
    await Volunteer.update({Volunteer.user: dana_user.id}).where(Volunteer.id == dana.id)
    phone = await make_client()
    await login(phone, "charlie@example.org")
    home = await phone.get("/")
    assert "Join Circle Rowan?" in home.text
    membership = await CircleMembership.objects().where(CircleMembership.volunteer == dana.id).first()
    accepted = await form_post(phone, f"/invitations/{membership.public_id}/accept")
    assert accepted.status_code == 303
    await membership.refresh()
    assert membership.status == "accepted"
    again = await form_post(phone, f"/invitations/{membership.public_id}/decline")
    assert again.status_code == 303
    await membership.refresh()
    assert membership.status == "accepted"


async def test_a_volunteer_cannot_answer_someone_elses_invitation(client, programme):
    membership = await CircleMembership.objects().where(CircleMembership.volunteer == programme.charlie.id).first()
    await CircleMembership.update({CircleMembership.status: "invited"}).where(CircleMembership.id == membership.id)
    await login(client, "alice@example.org")
    assert (await form_post(client, f"/invitations/{membership.public_id}/accept")).status_code == 404


async def test_volunteers_see_their_circle_without_need_to_know_details(client, programme):
    from circles.tables import CaseNote

    await CaseNote(
        core_member=programme.core_a.id,
        body="Shared: likes walking",
        shared_with_circle=True,
        created_at=programme.circle_a.created_at,
    ).save()
    await CaseNote(
        core_member=programme.core_a.id,
        body="PRIVATE-NOTE-CANARY",
        shared_with_circle=False,
        created_at=programme.circle_a.created_at,
    ).save()
    await login(client, "alice@example.org")
    page = await client.get(f"/circles/{programme.circle_a.public_id}")
    assert page.status_code == 200
    assert "Dan" in page.text and "Shared: likes walking" in page.text
    for canary in ("OFFENCE-DETAIL-CANARY", "ORDER-CANARY", "PRIVATE-NOTE-CANARY", "car wash", "Daniel Mensah"):
        assert canary not in page.text
    assert (await client.get(f"/circles/{programme.circle_b.public_id}")).status_code == 404
    assert (await client.get(f"/core-members/{programme.core_a.public_id}")).status_code == 404


async def test_probation_officers_read_their_caseloads_circles_only(client, programme):
    await login(client, "priya@example.org")
    page = await client.get(f"/circles/{programme.circle_a.public_id}")
    assert page.status_code == 200 and "Move the circle" not in page.text
    assert (await client.get(f"/circles/{programme.circle_b.public_id}")).status_code == 404
    assert (await move(client, programme.circle_a, "active")).status_code == 404


async def test_coordinators_of_another_region_cannot_reach_the_circle(client, programme):
    await login(client, "dan@example.org")
    assert (await client.get(f"/circles/{programme.circle_a.public_id}")).status_code == 404
    assert (await client.get(f"/circles/{programme.circle_a.public_id}/matching")).status_code == 404
    assert await AuditEvent.exists().where(
        AuditEvent.action == Action.ACCESS_REFUSED, AuditEvent.object_id == str(programme.circle_a.public_id)
    )


async def test_withdrawing_an_invitation_and_recording_leaving(client, programme):
    await login(client, "cara@example.org")
    membership = await CircleMembership.objects().where(CircleMembership.volunteer == programme.alice.id).first()
    assert (
        await form_post(client, f"/circles/{programme.circle_a.public_id}/members/{membership.public_id}/end")
    ).status_code == 303
    await membership.refresh()
    assert membership.status == "left"
    again = await form_post(client, f"/circles/{programme.circle_a.public_id}/members/{membership.public_id}/end")
    assert again.status_code == 400 and "no longer in the circle" in again.text


async def test_the_circle_can_be_handed_to_another_coordinator_of_the_region(client, programme, settings):
    from tests.integration.conftest import create_user

    other = await create_user(
        settings, "erin@example.org", "coordinator", name="Erin Coordinator", region=programme.north
    )
    await login(client, "cara@example.org")
    form = await client.get(f"/circles/{programme.circle_a.public_id}/edit")
    assert "Erin Coordinator" in form.text and "Dan Coordinator" not in form.text
    data = {"code_name": "Circle Rowan", "check_in_every_days": "7", "coordinator": str(other.public_id)}
    assert (await form_post(client, f"/circles/{programme.circle_a.public_id}/edit", data)).status_code == 303
    await programme.circle_a.refresh()
    assert programme.circle_a.coordinator == other.id
    south = {**data, "coordinator": str(programme.coordinator_south.public_id)}
    refused = await form_post(client, f"/circles/{programme.circle_a.public_id}/edit", south)
    assert refused.status_code == 400 and "Choose the circle&#39;s coordinator." in refused.text
