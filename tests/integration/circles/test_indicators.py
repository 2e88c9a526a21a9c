"""Check-in indicators: the built-in catalogue, what each cohort sees, and the coordinator's page."""

from __future__ import annotations

import asyncio

import pytest

from circles.indicators import (
    BUILT_IN,
    INDICATOR_ADDED,
    INDICATOR_CHANGED,
    ensure_built_in,
    indicators_for,
    labels_for,
)
from circles.tables import Indicator
from cosa import i18n
from cosa.audit import Action
from cosa.tables import AuditEvent
from tests.integration.conftest import QueryCounter, form_post, login

NEW_INDICATOR = {
    "group": "wellbeing",
    "label": "Gambling again",
    "explanation": "They talk about betting, or money goes quickly after payday.",
}


@pytest.fixture
async def built_in() -> int:
    return await ensure_built_in()


async def row(code: str) -> dict:
    found = await Indicator.select().where(Indicator.code == code).first()
    assert found is not None
    return found


async def audit_rows(action: str) -> list[dict]:
    return await AuditEvent.select().where(AuditEvent.action == action).order_by(AuditEvent.id).output(load_json=True)


# --- the built-in catalogue ---------------------------------------------------------------------------


async def test_ensure_built_in_adds_every_built_in_indicator_with_its_concern_default():
    assert await ensure_built_in() == len(BUILT_IN)
    rows = await Indicator.select().order_by(Indicator.position)
    assert [r["code"] for r in rows] == [b.code for b in BUILT_IN]
    assert all(r["built_in"] and r["active"] for r in rows)
    assert {r["code"] for r in rows if r["raises_concern"]} == {b.code for b in BUILT_IN if b.raises_concern}


async def test_ensure_built_in_run_twice_adds_none_the_second_time(built_in):
    assert built_in == len(BUILT_IN)
    assert await ensure_built_in() == 0
    assert await Indicator.count() == len(BUILT_IN)


async def test_ensure_built_in_run_by_two_processes_at_once_adds_each_indicator_once():
    added = await asyncio.gather(ensure_built_in(), ensure_built_in())
    assert sum(added) == len(BUILT_IN)
    assert await Indicator.count() == len(BUILT_IN)


async def test_ensure_built_in_keeps_a_coordinators_choices_and_adds_only_what_is_missing(built_in):
    await Indicator.update({Indicator.active: False}).where(Indicator.code == "went_missing")
    await Indicator.update({Indicator.raises_concern: True}).where(Indicator.code == "isolation")
    await Indicator.delete().where(Indicator.code == "lost_work")  # as if it were new in this release
    assert await ensure_built_in() == 1
    assert (await row("went_missing"))["active"] is False
    assert (await row("went_missing"))["raises_concern"] is True
    assert (await row("isolation"))["raises_concern"] is True
    assert (await row("lost_work"))["active"] is True


# --- what each core member's check-ins show -----------------------------------------------------------


async def test_a_survivors_check_in_shows_risk_of_exploitation_and_wellbeing_but_no_accountability(built_in):
    indicators = await indicators_for("survivor")
    groups = [i["group"] for i in indicators]
    assert "accountability" not in groups
    assert groups == sorted(groups, key=["exploitation", "wellbeing"].index)  # exploitation first
    assert indicators[0] == {
        "code": "exploiter_contact",
        "group": "exploitation",
        "label": "Contact with people linked to past exploitation",
        "explanation": "They have seen, called or messaged someone connected with how they were exploited before.",
        "raises_concern": True,
    }
    assert {i["code"] for i in indicators} == {b.code for b in BUILT_IN if b.group != "accountability"}


async def test_a_convicted_core_members_check_in_shows_accountability_and_wellbeing_but_no_exploitation(built_in):
    indicators = await indicators_for("convicted")
    assert {i["group"] for i in indicators} == {"accountability", "wellbeing"}
    assert indicators[0]["code"] == "order_breach" and indicators[0]["raises_concern"] is True
    assert indicators[-1]["group"] == "wellbeing"


async def test_a_core_member_who_is_both_sees_every_group_in_reading_order(built_in):
    indicators = await indicators_for("both")
    assert len(indicators) == len(BUILT_IN)
    order = ["exploitation", "accountability", "wellbeing"]
    assert [i["group"] for i in indicators] == sorted((i["group"] for i in indicators), key=order.index)


async def test_an_unknown_cohort_sees_wellbeing_only(built_in):
    assert {i["group"] for i in await indicators_for("")} == {"wellbeing"}


async def test_switched_off_indicators_are_left_out_of_new_check_ins(built_in):
    await Indicator.update({Indicator.active: False}).where(Indicator.code == "debt_pressure")
    assert "debt_pressure" not in {i["code"] for i in await indicators_for("survivor")}


async def test_indicators_for_a_check_in_take_one_query(built_in, monkeypatch):
    counter = QueryCounter(monkeypatch)
    assert await counter.during(indicators_for("both")) == 1


async def test_labels_go_through_gettext_in_the_readers_language(built_in):
    i18n.set_locale("cy")
    try:
        labels = {i["code"]: i["label"] for i in await indicators_for("survivor")}
        stored = await labels_for(["isolation"])
    finally:
        i18n.set_locale(i18n.DEFAULT_LOCALE)
    assert labels["isolation"] == "Ynysigrwydd" == stored["isolation"]
    assert labels["went_missing"] == "Wedi mynd ar goll neu wedi teithio allan o'r ardal yn annisgwyl"
    english = {i["code"]: i["label"] for i in await indicators_for("survivor")}
    assert english["isolation"] == "Isolation"


async def test_labels_for_a_stored_check_in_include_switched_off_and_coordinators_indicators(
    built_in, client, cast, monkeypatch
):
    await login(client, "cara@example.org")
    await form_post(client, "/indicators", NEW_INDICATOR)
    custom = (await Indicator.select(Indicator.code).where(Indicator.built_in.eq(False)).first())["code"]
    await Indicator.update({Indicator.active: False}).where(Indicator.code.is_in(["went_missing", custom]))
    counter = QueryCounter(monkeypatch)
    codes = ["went_missing", custom, "no_longer_known"]
    labels: dict[str, str] = {}

    async def look_up() -> None:
        labels.update(await labels_for(codes))

    assert await counter.during(look_up()) == 1
    assert labels == {
        "went_missing": "Went missing or travelled out of area unexpectedly",
        custom: "Gambling again",
        "no_longer_known": "no_longer_known",
    }
    assert await counter.during(labels_for(["went_missing", "isolation"])) == 0  # built-ins need no query


# --- the coordinator's page ---------------------------------------------------------------------------


async def test_the_page_lists_every_indicator_by_group_with_its_switches(built_in, client, cast):
    await login(client, "cara@example.org")
    page = await client.get("/indicators")
    assert page.status_code == 200
    for heading in ("Risk of being exploited again", "Accountability", "Wellbeing and needs"):
        assert heading in page.text
    assert "Signs of physical harm" in page.text and "Unexplained income" in page.text
    assert "Someone else is keeping their passport, ID, bank card or other papers." in page.text
    assert "apply to every circle in the programme, and to new check-ins only" in page.text
    assert page.text.count('name="to" value="off"') == len(BUILT_IN) + 7  # all on; the seven raise concerns


async def test_the_pages_queries_do_not_grow_with_the_number_of_indicators(built_in, client, cast, monkeypatch):
    await login(client, "cara@example.org")
    counter = QueryCounter(monkeypatch)
    few = await counter.during(client.get("/indicators"))
    await Indicator.insert(
        *[Indicator(code=f"extra-{n}", group="wellbeing", label=f"Extra {n}", position=1000 + n) for n in range(30)]
    )
    assert await counter.during(client.get("/indicators")) == few


async def test_switching_an_indicator_off_takes_it_off_new_check_ins_and_is_audited(built_in, client, cast):
    await login(client, "cara@example.org")
    response = await form_post(client, "/indicators/went_missing/active", {"to": "off"})
    assert response.status_code == 303
    assert response.headers["location"] == "/indicators#indicator-went_missing"
    assert (await row("went_missing"))["active"] is False
    assert "went_missing" not in {i["code"] for i in await indicators_for("survivor")}
    [event] = await audit_rows(INDICATOR_CHANGED)
    assert (event["object_type"], event["object_id"], event["actor"]) == (
        "indicator",
        "went_missing",
        cast.coordinator.id,
    )
    assert event["detail"] == {"active": False}
    page = await client.get("/indicators")
    assert "is switched off for new check-ins" in page.text and "Switch on" in page.text


async def test_the_same_switch_sent_twice_does_not_switch_it_back(built_in, client, cast):
    await login(client, "cara@example.org")
    for _ in range(2):
        await form_post(client, "/indicators/isolation/concern", {"to": "on"})
    assert (await row("isolation"))["raises_concern"] is True
    assert len(await audit_rows(INDICATOR_CHANGED)) == 1


async def test_a_switch_without_a_direction_toggles(built_in, client, cast):
    await login(client, "cara@example.org")
    await form_post(client, "/indicators/physical_harm/concern")
    assert (await row("physical_harm"))["raises_concern"] is False
    await form_post(client, "/indicators/physical_harm/concern")
    assert (await row("physical_harm"))["raises_concern"] is True
    assert [e["detail"] for e in await audit_rows(INDICATOR_CHANGED)] == [
        {"raises_concern": False},
        {"raises_concern": True},
    ]


async def test_with_htmx_a_switch_answers_with_the_indicator_block_only(built_in, client, cast):
    await login(client, "cara@example.org")
    response = await form_post(client, "/indicators/isolation/concern", {"to": "on"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="indicators">') and "<html" not in response.text
    assert "“Isolation” now raises a concern when a volunteer ticks it." in response.text
    assert 'id="concern-isolation"' in response.text and "Stop raising a concern" in response.text


async def test_switching_an_indicator_that_does_not_exist_is_a_404_and_audited(built_in, client, cast):
    await login(client, "cara@example.org")
    response = await form_post(client, "/indicators/no-such-thing/active", {"to": "off"})
    assert response.status_code == 404
    [refusal] = await audit_rows(Action.ACCESS_REFUSED)
    assert (refusal["object_type"], refusal["object_id"]) == ("indicator", "no-such-thing")


async def test_a_coordinator_adds_an_indicator_that_new_check_ins_show_as_typed(built_in, client, cast):
    await login(client, "cara@example.org")
    response = await form_post(client, "/indicators", {**NEW_INDICATOR, "raises_concern": "yes"})
    assert response.status_code == 303, response.text
    added = await Indicator.select().where(Indicator.built_in.eq(False)).first()
    assert added["code"].startswith("gambling-again-") and response.headers["location"].endswith(added["code"])
    assert (added["group"], added["label"], added["active"], added["raises_concern"]) == (
        "wellbeing",
        "Gambling again",
        True,
        True,
    )
    [event] = await audit_rows(INDICATOR_ADDED)
    assert (event["object_type"], event["object_id"]) == ("indicator", added["code"])
    assert event["detail"] == {"group": "wellbeing", "raises_concern": True}
    i18n.set_locale("cy")
    try:
        shown = await indicators_for("convicted")
    finally:
        i18n.set_locale(i18n.DEFAULT_LOCALE)
    assert shown[-1] == {
        "code": added["code"],
        "group": "wellbeing",
        "label": "Gambling again",  # as typed, in every language
        "explanation": NEW_INDICATOR["explanation"],
        "raises_concern": True,
    }
    page = await client.get("/indicators")
    assert "The indicator is added" in page.text and "Added by a coordinator" in page.text


async def test_an_indicator_with_mistakes_is_explained_and_what_was_typed_is_kept(built_in, client, cast):
    await login(client, "cara@example.org")
    response = await form_post(client, "/indicators", {"group": "", "label": "", "explanation": "Look for bruises."})
    assert response.status_code == 400
    assert "Choose which group the indicator is in." in response.text
    assert "Enter the indicator, as volunteers will see it." in response.text
    assert 'href="#group"' in response.text and 'href="#label"' in response.text
    assert "Look for bruises.</textarea>" in response.text

    too_long = {"group": "exploitation", "label": "x" * 201, "explanation": "y" * 401}
    response = await form_post(client, "/indicators", too_long)
    assert response.status_code == 400
    assert "This must be 200 characters or fewer." in response.text
    assert "This must be 400 characters or fewer." in response.text
    assert 'value="exploitation" checked' in response.text

    response = await form_post(client, "/indicators", {**NEW_INDICATOR, "label": "isolation"})
    assert response.status_code == 400
    assert "This group already has an indicator with this name." in response.text
    assert await Indicator.count().where(Indicator.built_in.eq(False)) == 0
    assert await audit_rows(INDICATOR_ADDED) == []


# --- who may use it -----------------------------------------------------------------------------------


@pytest.mark.parametrize("email", ["alice@example.org", "priya@example.org", "ada@example.org"])
async def test_volunteers_probation_and_admins_get_a_404_for_the_page_and_its_forms(built_in, client, cast, email):
    await login(client, email)
    assert (await client.get("/indicators")).status_code == 404
    assert (await form_post(client, "/indicators/went_missing/active", {"to": "off"})).status_code == 404
    assert (await form_post(client, "/indicators/isolation/concern", {"to": "on"})).status_code == 404
    assert (await form_post(client, "/indicators", NEW_INDICATOR)).status_code == 404
    assert (await row("went_missing"))["active"] is True and (await row("isolation"))["raises_concern"] is False
    assert await Indicator.count() == len(BUILT_IN)
    assert len(await audit_rows(Action.ACCESS_REFUSED)) == 4
    assert await audit_rows(INDICATOR_CHANGED) == []


async def test_someone_not_signed_in_is_sent_to_sign_in(built_in, client):
    page = await client.get("/indicators", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Findicators"
    response = await form_post(client, "/indicators/went_missing/active", {"to": "off"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert (await row("went_missing"))["active"] is True
