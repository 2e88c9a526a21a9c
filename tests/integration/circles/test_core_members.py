"""Core member records: referral, need to know, NRM, needs, risk connections, notes; and who may see them."""

from __future__ import annotations

from datetime import timedelta

from circles.tables import CaseNote, CoreMember, NeedChange, RiskConnection
from cosa.audit import Action
from cosa.tables import AuditEvent
from tests.integration.circles.conftest import TODAY, make_core_member
from tests.integration.conftest import form_post, login

REFERRAL = {
    "full_name": "Mariana Popescu",
    "known_as": "Mari",
    "cohort": "survivor",
    "gender": "woman",
    "pronouns": "she/her",
    "volunteer_gender_preference": "woman",
    "address_district": "ng7 2ab",
    "referred_on": TODAY.isoformat(),
    "release_on": (TODAY + timedelta(days=20)).isoformat(),
    "licence_ends_on": (TODAY + timedelta(days=400)).isoformat(),
    "order_conditions": "No contact with named people",
    "offence_details": "Held for others",
}


async def test_a_coordinator_records_a_referral(client, cast):
    await login(client, "cara@example.org")
    probation = str(cast.probation.public_id)
    response = await client.post(
        "/core-members/new",
        data={
            **REFERRAL,
            "probation_officer": probation,
            "languages": ["ro", "en"],
            "_csrf_token": client.cookies.get("csrftoken"),
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    row = await CoreMember.select().where(CoreMember.full_name == "Mariana Popescu").output(load_json=True).first()
    assert row["region"] == cast.north.id and row["probation_officer"] == cast.probation.id
    assert row["address_district"] == "NG7" and sorted(row["languages"]) == ["en", "ro"]
    assert await AuditEvent.exists().where(AuditEvent.action == Action.CORE_MEMBER_REFERRED)
    page = await client.get(response.headers["location"])
    assert "Mariana Popescu" in page.text and "Romanian" in page.text


async def test_a_referral_with_mistakes_is_explained_and_kept(client, cast):
    await login(client, "cara@example.org")
    bad = {
        **REFERRAL,
        "full_name": "",
        "cohort": "",
        "address_district": "nowhere",
        "referred_on": (TODAY + timedelta(days=3)).isoformat(),
        "licence_ends_on": (TODAY - timedelta(days=400)).isoformat(),
    }
    response = await form_post(client, "/core-members/new", bad)
    assert response.status_code == 400
    for message in (
        "Enter the core member",
        "Choose which group",
        "postcode district like NG7",
        "today or in the past",
        "cannot end before the release date",
    ):
        assert message in response.text
    assert "No contact with named people" in response.text and 'value="Mari"' in response.text
    assert await CoreMember.count() == 0


async def test_the_record_shows_nrm_waiting_days_and_is_audited_when_viewed(client, cast):
    core = await make_core_member(cast.north, nrm_referred_on=TODAY - timedelta(days=412))
    await login(client, "cara@example.org")
    page = await client.get(f"/core-members/{core.public_id}")
    assert page.status_code == 200
    assert "Waiting 412 days for a reasonable grounds decision." in page.text
    assert await AuditEvent.exists().where(
        AuditEvent.action == Action.CORE_MEMBER_VIEWED, AuditEvent.object_id == str(core.public_id)
    )


async def test_the_nrm_record_checks_decisions_make_sense(client, cast):
    core = await make_core_member(cast.north)
    await login(client, "cara@example.org")
    url = f"/core-members/{core.public_id}/nrm"
    bad = await form_post(
        client,
        url,
        {
            "nrm_referred_on": "",
            "nrm_reasonable_grounds": "negative",
            "nrm_reasonable_grounds_on": "",
            "nrm_conclusive_grounds": "positive",
            "nrm_conclusive_grounds_on": TODAY.isoformat(),
        },
    )
    assert bad.status_code == 400
    assert (
        "Enter the date of the decision." in bad.text and "follows a positive reasonable grounds decision" in bad.text
    )
    assert "Enter the date of the NRM referral." in bad.text
    good = await form_post(
        client,
        url,
        {
            "nrm_referred_on": (TODAY - timedelta(days=300)).isoformat(),
            "nrm_reasonable_grounds": "positive",
            "nrm_reasonable_grounds_on": (TODAY - timedelta(days=290)).isoformat(),
            "nrm_conclusive_grounds": "",
            "nrm_conclusive_grounds_on": "",
            "public_order_disqualification": "yes",
        },
    )
    assert good.status_code == 303
    await core.refresh()
    assert core.nrm_reasonable_grounds == "positive" and core.public_order_disqualification
    page = await client.get(f"/core-members/{core.public_id}")
    assert "Waiting 300 days since referral for a conclusive grounds decision." in page.text


async def test_needs_change_in_place_and_keep_their_history(client, cast):
    core = await make_core_member(cast.north)
    await login(client, "cara@example.org")
    url = f"/core-members/{core.public_id}/needs"
    fragment = await form_post(
        client, url, {"area": "accommodation", "status": "unmet"}, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="needs"' in fragment.text
    assert "Accommodation: now unmet." in fragment.text
    await form_post(client, url, {"area": "accommodation", "status": "unmet"})  # no change, no history row
    await form_post(client, url, {"area": "accommodation", "status": "met"})
    history = (
        await NeedChange.select(NeedChange.status).where(NeedChange.core_member == core.id).order_by(NeedChange.id)
    )
    assert [h["status"] for h in history] == ["unmet", "met"]
    page = await client.get(f"/core-members/{core.public_id}")
    assert "0 unmet, 0 partly met, 1 met, 7 not yet assessed." in page.text
    bad = await form_post(client, url, {"area": "moon", "status": "met"})
    assert bad.status_code == 400 and "Choose a need." in bad.text


async def test_risk_connections_warn_when_the_address_is_in_their_district(client, cast):
    core = await make_core_member(cast.north, address_district="NG7")
    await login(client, "cara@example.org")
    url = f"/core-members/{core.public_id}/connections"
    missing = await form_post(
        client, url, {"kind": "place", "description": "", "districts": "ng7, zz", "cuckooing": "yes"}
    )
    assert missing.status_code == 400 and "Describe the connection." in missing.text and "zz" in missing.text
    added = await form_post(
        client,
        url,
        {"kind": "place", "description": "Flat above the takeaway", "districts": "ng7, ng8", "cuckooing": "yes"},
    )
    assert added.status_code == 303
    page = await client.get(f"/core-members/{core.public_id}")
    assert "Their address is in NG7, a district linked to their risk connections." in page.text
    assert "known for cuckooing" in page.text
    connection = await RiskConnection.select(RiskConnection.public_id).first()
    removed = await form_post(client, f"{url}/{connection['public_id']}/remove")
    assert removed.status_code == 303 and await RiskConnection.count() == 0


async def test_notes_are_private_unless_shared(client, cast):
    core = await make_core_member(cast.north)
    await login(client, "cara@example.org")
    await form_post(client, f"/core-members/{core.public_id}/notes", {"body": "Private thought"})
    await form_post(
        client, f"/core-members/{core.public_id}/notes", {"body": "Likes football", "shared_with_circle": "yes"}
    )
    assert await CaseNote.count().where(CaseNote.shared_with_circle.eq(True)) == 1
    empty = await form_post(client, f"/core-members/{core.public_id}/notes", {"body": "  "})
    assert empty.status_code == 400 and "Write the note." in empty.text


async def test_coordinators_of_another_region_get_404_and_it_is_audited(client, cast):
    core = await make_core_member(cast.north)
    await login(client, "dan@example.org")
    for url in (f"/core-members/{core.public_id}", f"/core-members/{core.public_id}/edit"):
        assert (await client.get(url)).status_code == 404
    assert (await form_post(client, f"/core-members/{core.public_id}/notes", {"body": "x"})).status_code == 404
    refused = await AuditEvent.count().where(
        AuditEvent.action == Action.ACCESS_REFUSED, AuditEvent.object_id == str(core.public_id)
    )
    assert refused == 3
    listing = await client.get("/core-members/")
    assert "Daniel Mensah" not in listing.text


async def test_volunteers_and_admins_never_reach_core_member_records(client, make_client, cast):
    core = await make_core_member(cast.north)
    for email in ("alice@example.org", "ada@example.org"):
        visitor = await make_client()
        await login(visitor, email)
        assert (await visitor.get(f"/core-members/{core.public_id}")).status_code == 404
        assert (await visitor.get("/core-members/")).status_code == 404


async def test_probation_officers_see_only_their_own_caseload_and_cannot_edit(client, cast):
    mine = await make_core_member(cast.north, cast.probation)
    theirs = await make_core_member(cast.north, cast.probation_other, full_name="Someone Else")
    await login(client, "priya@example.org")
    listing = await client.get("/core-members/")
    assert "Daniel Mensah" in listing.text and "Someone Else" not in listing.text
    page = await client.get(f"/core-members/{mine.public_id}")
    assert page.status_code == 200 and "OFFENCE-DETAIL-CANARY" in page.text and "Edit the record" not in page.text
    assert (await client.get(f"/core-members/{theirs.public_id}")).status_code == 404
    assert (await client.get(f"/core-members/{mine.public_id}/edit")).status_code == 404
    home = await client.get("/", follow_redirects=False)
    assert home.headers["location"] == "/escalations"  # their alerts come first


async def test_search_filters_the_list_in_place(client, cast):
    await make_core_member(cast.north)
    await make_core_member(cast.north, full_name="Ewa Nowak", known_as="")
    await login(client, "cara@example.org")
    page = await client.get("/core-members/")
    # Names searched for go in the request body, never the address (SECURITY.md 15).
    assert 'method="post" action="/core-members/search"' in page.text and "hx-push-url" not in page.text
    fragment = await form_post(client, "/core-members/search", {"q": "ewa"}, headers={"HX-Request": "true"})
    assert "Ewa Nowak" in fragment.text and "Daniel Mensah" not in fragment.text and "<html" not in fragment.text
    none = await form_post(client, "/core-members/search", {"q": "zzz"})
    assert none.status_code == 200 and "No core members match" in none.text and 'value="zzz"' in none.text
    ignored = await client.get("/core-members/?q=ewa")
    assert "Daniel Mensah" in ignored.text


async def test_editing_keeps_the_record_in_step(client, cast):
    core = await make_core_member(cast.north)
    await login(client, "cara@example.org")
    form = await client.get(f"/core-members/{core.public_id}/edit")
    assert form.status_code == 200 and 'value="Daniel Mensah"' in form.text
    response = await form_post(
        client, f"/core-members/{core.public_id}/edit", {**REFERRAL, "full_name": "Daniel K. Mensah"}
    )
    assert response.status_code == 303
    await core.refresh()
    assert core.full_name == "Daniel K. Mensah" and core.address_district == "NG7"
