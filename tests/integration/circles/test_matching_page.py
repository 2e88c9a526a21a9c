"""The matching page: explained proposals, every exclusion with its reason, invitations from the list."""

from __future__ import annotations

import base64
from datetime import time, timedelta

from circles.tables import Circle, CircleMembership
from tests.integration.circles.conftest import TODAY, make_volunteer
from tests.integration.conftest import form_post, login


async def test_proposals_are_explained_and_conflicts_are_never_proposed(client, programme):
    await Circle.update({Circle.meeting_weekday: 0, Circle.meeting_time: time(18, 30)}).where(
        Circle.id == programme.circle_a.id
    )
    await make_volunteer(programme.north, "Erin Nearby", home_district="NG2", availability=["mon-evening"])
    await make_volunteer(programme.north, "Frank Conflict", home_district="NG7")
    await make_volunteer(programme.north, "Gina Declared", declared_districts=["NG3"])
    await make_volunteer(programme.north, "Hal Expired", dbs_certificate_on=TODAY - timedelta(days=4 * 365))
    await make_volunteer(programme.north, "Ivy Applicant", status="applicant", interview_on=None)
    await make_volunteer(programme.south, "Jo Elsewhere")
    await login(client, "cara@example.org")
    page = await client.get(f"/circles/{programme.circle_a.public_id}/matching")
    assert page.status_code == 200
    proposed, _, not_proposed = page.text.partition("not proposed")
    assert "Erin Nearby" in proposed and "Monday evening" in proposed
    for name in ("Frank Conflict", "Gina Declared", "Hal Expired", "Ivy Applicant"):
        assert name not in proposed, name
        assert name in not_proposed, name
    assert "NG7" in not_proposed and "NG3" in not_proposed
    assert "Jo Elsewhere" not in page.text  # another region's volunteers are not listed at all
    # Alice and Bob are already in the circle: listed as not proposed.
    assert "Alice Volunteer" in not_proposed


async def test_inviting_from_the_list_updates_in_place(client, programme):
    erin = await make_volunteer(programme.north, "Erin Nearby", home_district="NG2")
    await login(client, "cara@example.org")
    response = await form_post(
        client,
        f"/circles/{programme.circle_a.public_id}/invite",
        {"volunteer": str(erin.public_id)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and "Erin Nearby is invited" in response.text and "<html" not in response.text
    assert await CircleMembership.exists().where(
        CircleMembership.volunteer == erin.id, CircleMembership.status == "invited"
    )


async def test_a_volunteer_of_another_region_cannot_be_invited(client, programme):
    jo = await make_volunteer(programme.south, "Jo Elsewhere")
    await login(client, "cara@example.org")
    response = await form_post(
        client, f"/circles/{programme.circle_a.public_id}/invite", {"volunteer": str(jo.public_id)}
    )
    assert response.status_code == 404
    garbage = await form_post(client, f"/circles/{programme.circle_a.public_id}/invite", {"volunteer": "not-a-uuid"})
    assert garbage.status_code == 404


async def test_inviting_without_htmx_puts_no_name_in_the_flash_cookie(client, programme):
    erin = await make_volunteer(programme.north, "Erin Nearby")
    await login(client, "cara@example.org")
    response = await form_post(
        client, f"/circles/{programme.circle_a.public_id}/invite", {"volunteer": str(erin.public_id)}
    )
    assert response.status_code == 303
    cookies = " ".join(response.headers.get_list("set-cookie"))
    assert "flash" in cookies
    decoded = base64.urlsafe_b64decode(cookies.split("cosa_flash=", 1)[1].split(";", 1)[0].rpartition(".")[0] + "==")
    assert b"Erin" not in decoded and b"is invited" in decoded
    page = await client.get(response.headers["location"])
    assert "The volunteer is invited" in page.text


async def test_a_full_circle_takes_no_more_invitations(client, programme):
    for i in range(4):
        await CircleMembership(
            circle=programme.circle_a.id,
            volunteer=(await make_volunteer(programme.north, f"Extra {i}")).id,
            status="invited",
            invited_at=programme.circle_a.created_at,
        ).save()
    seventh = await make_volunteer(programme.north, "Seventh Person")
    await login(client, "cara@example.org")
    response = await form_post(
        client, f"/circles/{programme.circle_a.public_id}/invite", {"volunteer": str(seventh.public_id)}
    )
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "at most 6 volunteers" in page.text


async def test_the_matching_page_uses_a_fixed_number_of_queries(client, programme, monkeypatch):
    from tests.integration.conftest import QueryCounter

    await login(client, "cara@example.org")
    url = f"/circles/{programme.circle_a.public_id}/matching"
    counter = QueryCounter(monkeypatch)
    few = await counter.during(client.get(url))
    for i in range(25):
        await make_volunteer(programme.north, f"Many {i}", home_district="NG2")
    many = await counter.during(client.get(url))
    assert many == few
