"""Matching: hard exclusions are watertight, soft factors add up, the order is stable, every reason reads."""

import dataclasses
import re
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cosa import i18n
from volunteers.matching import (
    ALL_CODES,
    EXCLUSION_CODES,
    FACTOR_CODES,
    Candidate,
    CircleProfile,
    Proposal,
    Reason,
    describe,
    propose,
    rank,
)
from volunteers.rules import SLOTS, normalise_district
from volunteers.tables import VolunteerStatus

TODAY = date(2026, 11, 27)


def candidate(**changes: object) -> Candidate:
    """Eligible and neutral: every soft factor scores 0 unless a test changes it."""
    fields: dict[str, object] = {
        "public_id": "v-1",
        "name": "Alice",
        "status": "active",
        "missing": (),
        "dbs_expires_on": TODAY + timedelta(days=365),
        "active_circles": 0,
        "max_circles": 2,
        "circles_completed": 0,
        "gender": "",
        "languages": frozenset(),
        "home_district": "",
        "availability": frozenset(),
        "declared_districts": frozenset(),
        "declared_connections": "",
        "in_this_circle": False,
    }
    fields.update(changes)
    return Candidate(**fields)  # type: ignore[arg-type]


def circle(**changes: object) -> CircleProfile:
    fields: dict[str, object] = {
        "meeting_slot": None,
        "venue_district": "",
        "languages": frozenset(),
        "gender_preference": "",
        "risk_districts": frozenset(),
        "risk_descriptions": (),
        "member_genders": (),
        "member_experience": (),
    }
    fields.update(changes)
    return CircleProfile(**fields)  # type: ignore[arg-type]


def assess(volunteer: Candidate, profile: CircleProfile | None = None) -> Proposal:
    return propose(volunteer, profile or circle(), TODAY)


def exclusion_codes(proposal: Proposal) -> list[str]:
    return [reason.code for reason in proposal.exclusions]


def factor(proposal: Proposal, *codes: str) -> Reason:
    """The contribution with one of these codes (exactly one must be present)."""
    found = [reason for reason in proposal.contributions if reason.code in codes]
    assert len(found) == 1, [reason.code for reason in proposal.contributions]
    return found[0]


# Hard exclusions


def test_a_ready_volunteer_with_no_conflicts_is_proposed():
    proposal = assess(candidate())
    assert not proposal.excluded
    assert proposal.exclusions == ()


@pytest.mark.parametrize("status", [s for s in VolunteerStatus if s != VolunteerStatus.active])
def test_a_volunteer_who_is_not_active_is_excluded_with_their_status(status):
    proposal = assess(candidate(status=status.value))
    assert exclusion_codes(proposal) == ["not_active"]
    assert proposal.exclusions[0].get("status") == status.value


def test_unfinished_vetting_or_training_excludes_and_says_what_is_missing():
    proposal = assess(candidate(missing=("references", "training_msht")))
    assert exclusion_codes(proposal) == ["vetting_incomplete"]
    assert proposal.exclusions[0].get("missing") == ("references", "training_msht")


@pytest.mark.parametrize("expires_on", [TODAY, TODAY - timedelta(days=1), date(2020, 1, 1)])
def test_a_dbs_check_that_has_expired_excludes_with_its_date(expires_on):
    proposal = assess(candidate(dbs_expires_on=expires_on, missing=("dbs_expired",)))
    assert exclusion_codes(proposal) == ["dbs_expired"]
    assert proposal.exclusions[0].get("expired_on") == expires_on


def test_a_dbs_check_expiring_tomorrow_is_still_valid_today():
    assert not assess(candidate(dbs_expires_on=TODAY + timedelta(days=1))).excluded


def test_no_dbs_check_excludes_and_is_not_repeated_as_unfinished_vetting():
    proposal = assess(candidate(dbs_expires_on=None, missing=("dbs",)))
    assert exclusion_codes(proposal) == ["no_dbs"]


def test_no_dbs_check_excludes_even_when_the_caller_missed_it():
    assert exclusion_codes(assess(candidate(dbs_expires_on=None))) == ["no_dbs"]


def test_an_expired_dbs_the_caller_reports_excludes_even_when_the_date_looks_valid():
    proposal = assess(candidate(missing=("dbs_expired",)))
    assert exclusion_codes(proposal) == ["vetting_incomplete"]
    assert proposal.exclusions[0].get("missing") == ("dbs_expired",)


@pytest.mark.parametrize(("active", "most"), [(2, 2), (3, 2), (0, 0)])
def test_a_volunteer_at_their_limit_of_circles_is_excluded(active, most):
    proposal = assess(candidate(active_circles=active, max_circles=most))
    assert exclusion_codes(proposal) == ["at_capacity"]
    assert proposal.exclusions[0].detail == (("active_circles", active), ("max_circles", most))


def test_a_volunteer_below_their_limit_is_not_at_capacity():
    assert not assess(candidate(active_circles=1, max_circles=2)).excluded


def test_a_volunteer_already_invited_to_or_in_this_circle_is_excluded():
    assert exclusion_codes(assess(candidate(in_this_circle=True))) == ["in_this_circle"]


@pytest.mark.parametrize("home", ["NG7", "ng7", " Ng7 ", "NG7 1AB", "ng71ab"])
def test_living_in_a_risk_district_is_a_conflict_however_it_is_written(home):
    proposal = assess(candidate(home_district=home), circle(risk_districts=frozenset({"ng7"})))
    assert exclusion_codes(proposal) == ["conflict_home_district"]
    assert proposal.exclusions[0].get("district") == "NG7"


def test_living_in_a_neighbouring_district_is_not_a_conflict():
    assert not assess(candidate(home_district="NG1"), circle(risk_districts=frozenset({"NG7"}))).excluded


def test_a_risk_district_that_is_not_a_valid_district_still_matches_as_written():
    profile = circle(risk_districts=frozenset({"XYZ 123"}))
    assert exclusion_codes(assess(candidate(home_district="xyz123"), profile)) == ["conflict_home_district"]


def test_declared_districts_in_risk_districts_are_a_conflict_listing_every_one():
    profile = circle(risk_districts=frozenset({"NG7", "S2", "LE4"}))
    proposal = assess(candidate(declared_districts=frozenset({"s2", "NG7", "CF10"})), profile)
    assert exclusion_codes(proposal) == ["conflict_declared_district"]
    assert proposal.exclusions[0].get("districts") == ("NG7", "S2")


def test_a_district_written_in_a_risk_description_counts_as_a_risk_district():
    profile = circle(risk_descriptions=("Cuckooed flat on the Manor estate, Sheffield S2 1AB",))
    assert exclusion_codes(assess(candidate(home_district="S2"), profile)) == ["conflict_home_district"]
    assert exclusion_codes(assess(candidate(declared_districts=frozenset({"S2"})), profile)) == [
        "conflict_declared_district"
    ]


def test_declared_connections_sharing_a_place_name_with_a_risk_connection_are_a_conflict():
    profile = circle(risk_descriptions=("Worked at a car wash in Sheffield run by the gang",))
    proposal = assess(candidate(declared_connections="My sister lives in Sheffield."), profile)
    assert exclusion_codes(proposal) == ["conflict_declared_words"]
    assert proposal.exclusions[0].get("words") == ("Sheffield",)


def test_declared_connections_report_every_shared_word_as_the_volunteer_wrote_it():
    profile = circle(risk_descriptions=("Marek Kowalski, gangmaster", "The Sunrise car wash, Alfreton Road"))
    text = "I know the KOWALSKI family from church; used to buy cars on Alfreton Road."
    proposal = assess(candidate(declared_connections=text), profile)
    assert proposal.exclusions[0].get("words") == ("KOWALSKI", "Alfreton")


@pytest.mark.parametrize(
    ("risk", "declared"),
    [
        ("Recruited in Zamość by an agency", "grew up near zamosc"),
        ("The Nowak brothers", "NOWAK, a neighbour"),
        ("Łódź warehouse", "family in Lodz"),
        ("Café Rouge on the high street", "cafe-rouge regulars"),
        ("Owner of Glan-yr-afon farm", "I volunteer at Glan yr Afon"),
        ("The Smiths' takeaway", "Jo Smith from the takeaway"),
    ],
)
def test_words_are_compared_without_case_accents_punctuation_or_a_plural_s(risk, declared):
    proposal = assess(candidate(declared_connections=declared), circle(risk_descriptions=(risk,)))
    assert exclusion_codes(proposal) == ["conflict_declared_words"]


@pytest.mark.parametrize(
    "declared",
    [
        "My family and friends live in the community on this street, with people I have known for years",
        "Teulu a ffrindiau yn byw yn y gymuned ar y stryd gyda pobl",
        "My cousin and uncle, my brother's children",
        "A car, a bus and a van",
        "Met in 2019 at 1234",
    ],
)
def test_generic_short_and_numeric_words_are_not_a_conflict(declared):
    risk = (
        "Family friend from the community, people known to him; lives on the street with his cousin and uncle, "
        "children, ffrindiau teulu cymuned stryd pobl; bus car van; 2019 1234",
    )
    assert not assess(candidate(declared_connections=declared), circle(risk_descriptions=risk)).excluded


@pytest.mark.parametrize("declared", ["Grew up in ng7 3ab", "Old address NG71AB", "family in NG7"])
def test_declared_connections_mentioning_a_risk_district_are_a_conflict(declared):
    proposal = assess(candidate(declared_connections=declared), circle(risk_districts=frozenset({"NG7"})))
    assert exclusion_codes(proposal) == ["conflict_text_district"]
    assert proposal.exclusions[0].get("districts") == ("NG7",)


def test_a_district_in_both_texts_is_a_conflict_even_when_not_a_known_district():
    profile = circle(risk_descriptions=("Safe house somewhere in ZZ9",))
    proposal = assess(candidate(declared_connections="We lived in zz9 for a while"), profile)
    assert exclusion_codes(proposal) == ["conflict_text_district"]


def test_every_exclusion_that_applies_is_listed_conflicts_first():
    profile = circle(risk_districts=frozenset({"NG7", "S2"}), risk_descriptions=("Gang based around Sheffield Road",))
    volunteer = candidate(
        status="resting",
        missing=("interview", "dbs_expired"),
        dbs_expires_on=TODAY - timedelta(days=3),
        active_circles=2,
        max_circles=2,
        in_this_circle=True,
        home_district="NG7",
        declared_districts=frozenset({"S2"}),
        declared_connections="Uncle in Sheffield, S2",
    )
    proposal = assess(volunteer, profile)
    assert exclusion_codes(proposal) == [
        "conflict_home_district",
        "conflict_declared_district",
        "conflict_declared_words",
        "conflict_text_district",
        "not_active",
        "vetting_incomplete",
        "dbs_expired",
        "at_capacity",
        "in_this_circle",
    ]
    assert all(reason.points == 0 for reason in proposal.exclusions)


# Soft factors


def test_every_proposal_has_one_contribution_per_soft_factor_and_the_score_is_their_sum():
    profile = circle(meeting_slot="mon-evening", venue_district="NG1", languages=frozenset({"pl"}))
    proposal = assess(
        candidate(availability=frozenset({"mon-evening"}), languages=frozenset({"pl"}), home_district="DE1"),
        profile,
    )
    assert len(proposal.contributions) == 7
    assert all(reason.code in FACTOR_CODES for reason in proposal.contributions)
    assert proposal.score == sum(reason.points for reason in proposal.contributions) == 30 + 25 + 0


def test_a_neutral_volunteer_scores_zero_with_every_reason_given():
    proposal = assess(candidate())
    assert proposal.score == 0
    assert [reason.code for reason in proposal.contributions] == [
        "no_meeting_slot",
        "core_member_languages_not_recorded",
        "venue_district_unknown",
        "no_gender_preference",
        "gender_mix_unchanged",
        "no_experience",
        "no_current_circles",
    ]


def test_being_available_at_the_circles_meeting_slot_scores_30():
    profile = circle(meeting_slot="mon-evening")
    reason = factor(
        assess(candidate(availability=frozenset({"mon-evening", "tue-morning"})), profile), "available_at_slot"
    )
    assert (reason.points, reason.get("slot")) == (30, "mon-evening")


def test_not_being_available_at_the_meeting_slot_scores_nothing_and_says_so():
    profile = circle(meeting_slot="mon-evening")
    reason = factor(assess(candidate(availability=frozenset({"mon-morning"})), profile), "not_available_at_slot")
    assert reason.points == 0


def test_availability_is_not_scored_when_the_circle_has_no_meeting_slot_yet():
    reason = factor(assess(candidate(availability=frozenset(SLOTS))), "no_meeting_slot")
    assert reason.points == 0


@pytest.mark.parametrize(
    ("spoken", "points", "shared"),
    [
        ({"en"}, 15, ("en",)),
        ({"en", "pl"}, 30, ("en", "pl")),
        ({"en", "pl", "ro"}, 30, ("en", "pl", "ro")),
        ({"EN", "fr"}, 15, ("en",)),
    ],
)
def test_shared_languages_score_15_each_up_to_30(spoken, points, shared):
    profile = circle(languages=frozenset({"en", "pl", "ro"}))
    reason = factor(assess(candidate(languages=frozenset(spoken)), profile), "shared_languages")
    assert (reason.points, reason.get("languages")) == (points, shared)


def test_sharing_a_language_with_a_core_member_who_speaks_no_english_scores_10_more():
    profile = circle(languages=frozenset({"sq", "it"}))
    assert (
        factor(assess(candidate(languages=frozenset({"sq", "en"})), profile), "shared_language_no_english").points == 25
    )
    assert (
        factor(assess(candidate(languages=frozenset({"sq", "it"})), profile), "shared_language_no_english").points == 40
    )


@pytest.mark.parametrize(
    ("core", "spoken", "code"),
    [
        ({"en"}, {"pl"}, "no_shared_language"),
        ({"en"}, set(), "languages_not_recorded"),
        (set(), {"en"}, "core_member_languages_not_recorded"),
    ],
)
def test_no_shared_or_unrecorded_languages_score_nothing(core, spoken, code):
    profile = circle(languages=frozenset(core))
    assert factor(assess(candidate(languages=frozenset(spoken)), profile), code).points == 0


@pytest.mark.parametrize(
    ("home", "code", "points"),
    [
        ("NG1", "distance_near", 20),  # the venue's own district
        ("NG5", "distance_near", 20),  # about 5 km
        ("NG10", "distance_moderate", 10),  # about 11 km
        ("DE1", "distance_far", 0),  # Derby, about 22 km
        ("LE1", "distance_very_far", -10),  # Leicester, about 36 km
        ("cf10", "distance_very_far", -10),  # Cardiff
    ],
)
def test_distance_from_home_to_the_venue_scores_by_band(home, code, points):
    reason = factor(assess(candidate(home_district=home), circle(venue_district="NG1")), code)
    assert reason.points == points
    assert isinstance(reason.get("km"), float)


@pytest.mark.parametrize(
    ("home", "venue", "code", "district"),
    [
        ("", "NG1", "home_district_unknown", None),
        ("NG7", "", "venue_district_unknown", None),
        ("ZZ99", "NG1", "district_not_found", "ZZ99"),
        ("NG7", "zz99", "district_not_found", "ZZ99"),
    ],
)
def test_an_unknown_distance_scores_nothing_and_says_why(home, venue, code, district):
    reason = factor(assess(candidate(home_district=home), circle(venue_district=venue)), code)
    assert (reason.points, reason.get("district")) == (0, district)


@pytest.mark.parametrize(
    ("preference", "gender", "code", "points"),
    [
        ("woman", "woman", "gender_preference_met", 15),
        ("woman", "man", "gender_preference_not_met", -25),
        ("woman", "non_binary", "gender_preference_not_met", -25),
        ("", "man", "no_gender_preference", 0),
        ("woman", "", "gender_not_recorded", 0),
        ("woman", "not_said", "gender_not_recorded", 0),
    ],
)
def test_the_core_members_gender_preference(preference, gender, code, points):
    reason = factor(assess(candidate(gender=gender), circle(gender_preference=preference)), code)
    assert reason.points == points


@pytest.mark.parametrize(
    ("members", "gender", "code", "points"),
    [
        (("man", "man"), "woman", "gender_mix_widened", 5),
        (("woman",), "non_binary", "gender_mix_widened", 5),
        (("man", "man"), "man", "gender_mix_unchanged", 0),
        (("man", "woman"), "non_binary", "gender_mix_unchanged", 0),
        (("man", ""), "woman", "gender_mix_unchanged", 0),
        (("man", "man"), "not_said", "gender_mix_unchanged", 0),
        ((), "woman", "gender_mix_unchanged", 0),
    ],
)
def test_bringing_another_gender_to_a_one_gender_circle_scores_5(members, gender, code, points):
    reason = factor(assess(candidate(gender=gender), circle(member_genders=members)), code)
    assert reason.points == points


@pytest.mark.parametrize(
    ("members", "completed", "code", "points"),
    [
        ((), 1, "brings_experience", 10),
        ((0, 0), 3, "brings_experience", 10),
        ((0, 1), 1, "experience", 2),
        ((2,), 2, "experience", 4),
        ((2,), 3, "experience", 6),
        ((2,), 7, "experience", 6),
        ((0,), 0, "no_experience", 0),
        ((2,), 0, "no_experience", 0),
    ],
)
def test_experience_is_worth_most_to_a_circle_without_any(members, completed, code, points):
    reason = factor(assess(candidate(circles_completed=completed), circle(member_experience=members)), code)
    assert reason.points == points


@pytest.mark.parametrize(
    ("active", "code", "points"),
    [(0, "no_current_circles", 0), (1, "current_circles", -5), (3, "current_circles", -15)],
)
def test_each_circle_a_volunteer_already_serves_in_costs_5(active, code, points):
    reason = factor(assess(candidate(active_circles=active, max_circles=5)), code)
    assert reason.points == points


def test_excluded_volunteers_are_still_scored_so_the_page_can_show_everything():
    proposal = assess(
        candidate(status="resting", availability=frozenset({"mon-evening"})), circle(meeting_slot="mon-evening")
    )
    assert proposal.excluded
    assert proposal.score == 30


# Order


def test_eligible_volunteers_are_ordered_by_score_highest_first():
    profile = circle(meeting_slot="mon-evening", languages=frozenset({"pl"}))
    both = candidate(public_id="1", name="Zoe", availability=frozenset({"mon-evening"}), languages=frozenset({"pl"}))
    available = candidate(public_id="2", name="Yan", availability=frozenset({"mon-evening"}))
    neither = candidate(public_id="3", name="Abe")
    ranked = rank([neither, available, both], profile, TODAY)
    assert [p.candidate.name for p in ranked] == ["Zoe", "Yan", "Abe"]
    assert [p.score for p in ranked] == [55, 30, 0]


def test_equal_scores_are_ordered_by_name_ignoring_case():
    names = ["bob", "Alice", "Charlie", "alan"]
    ranked = rank([candidate(public_id=str(i), name=n) for i, n in enumerate(names)], circle(), TODAY)
    assert [p.candidate.name for p in ranked] == ["alan", "Alice", "bob", "Charlie"]


def test_volunteers_with_the_same_name_and_score_keep_a_stable_order():
    same = [candidate(public_id=pid, name="Sam") for pid in ("c", "a", "b")]
    assert [p.candidate.public_id for p in rank(same, circle(), TODAY)] == ["a", "b", "c"]


def test_excluded_volunteers_come_after_eligible_ones_by_name_whatever_their_score():
    profile = circle(meeting_slot="mon-evening")
    strong_but_resting = candidate(public_id="1", name="Bea", status="resting", availability=frozenset({"mon-evening"}))
    in_conflict = candidate(public_id="2", name="Abe", home_district="NG7")
    weak = candidate(public_id="3", name="Cal")
    ranked = rank(
        [strong_but_resting, weak, in_conflict], dataclasses.replace(profile, risk_districts=frozenset({"NG7"})), TODAY
    )
    assert [(p.candidate.name, p.excluded) for p in ranked] == [("Cal", False), ("Abe", True), ("Bea", True)]


def test_rank_takes_any_iterable_and_an_empty_one():
    assert rank(iter([candidate()]), circle(), TODAY)[0].candidate.name == "Alice"
    assert rank([], circle(), TODAY) == []


def test_propose_gives_the_same_proposal_as_rank():
    volunteer = candidate(home_district="NG7", availability=frozenset({"mon-evening"}))
    profile = circle(meeting_slot="mon-evening", venue_district="NG1")
    assert propose(volunteer, profile, TODAY) == rank([volunteer], profile, TODAY)[0]


# Explanations

SAMPLE_DETAILS: dict[str, tuple[tuple[str, object], ...]] = {
    "conflict_home_district": (("district", "NG7"),),
    "conflict_declared_district": (("districts", ("NG7", "S2")),),
    "conflict_declared_words": (("words", ("Sheffield",)),),
    "conflict_text_district": (("districts", ("NG7",)),),
    "not_active": (("status", "resting"),),
    "vetting_incomplete": (("missing", ("interview", "training_trauma")),),
    "dbs_expired": (("expired_on", date(2026, 3, 3)),),
    "at_capacity": (("active_circles", 2), ("max_circles", 2)),
    "available_at_slot": (("slot", "mon-evening"),),
    "not_available_at_slot": (("slot", "mon-evening"),),
    "shared_languages": (("languages", ("en", "pl")),),
    "shared_language_no_english": (("languages", ("pl",)),),
    "distance_near": (("km", 4.2),),
    "distance_moderate": (("km", 11.0),),
    "distance_far": (("km", 22.3),),
    "distance_very_far": (("km", 214.9),),
    "district_not_found": (("district", "ZZ99"),),
    "gender_preference_met": (("preferred", "woman"),),
    "gender_preference_not_met": (("preferred", "woman"),),
    "gender_not_recorded": (("preferred", "woman"),),
    "gender_mix_widened": (("members", "man"),),
    "brings_experience": (("circles", 2),),
    "experience": (("circles", 1),),
    "current_circles": (("circles", 1),),
}


def test_the_code_lists_are_complete_and_distinct():
    assert len(set(ALL_CODES)) == len(ALL_CODES) == len(EXCLUSION_CODES) + len(FACTOR_CODES)
    assert set(SAMPLE_DETAILS) <= set(ALL_CODES)


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_has_a_plain_explanation(code):
    text = describe(Reason(code, 0.0, SAMPLE_DETAILS.get(code, ())))  # type: ignore[arg-type]
    assert text.strip()
    assert "%(" not in text and "None" not in text and "_" not in text


@pytest.mark.parametrize("code", ALL_CODES)
def test_every_code_can_be_explained_even_without_its_detail(code):
    assert describe(Reason(code)).strip()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("conflict_home_district", "Lives in NG7, where the core member has known risk connections"),
        (
            "conflict_declared_words",
            "Declared connections mention ‘Sheffield’, which also appears in the core member's risk connections",
        ),
        ("available_at_slot", "Available at the circle's usual time (Monday evening)"),
        ("distance_near", "About 4 km from the venue"),
        ("dbs_expired", "DBS check expired on 3 March 2026"),
        (
            "vetting_incomplete",
            "Vetting or training not finished: interview, trauma-informed practice training still to do",
        ),
        ("shared_languages", "Shares 2 languages with the core member: English, Polish"),
        ("not_active", "Not an active volunteer at the moment (resting)"),
    ],
)
def test_explanations_read_as_plain_sentences(code, expected):
    assert describe(Reason(code, 0.0, SAMPLE_DETAILS[code])) == expected  # type: ignore[arg-type]


def test_explanations_follow_the_readers_language_for_dates_and_names():
    try:
        i18n.set_locale("cy")
        assert "Mawrth" in describe(Reason("dbs_expired", 0.0, (("expired_on", date(2026, 3, 3)),)))
        assert "Pwyleg" in describe(Reason("shared_language_no_english", 25.0, (("languages", ("pl",)),)))
    finally:
        i18n.set_locale("en_GB")


def test_an_unknown_code_is_a_programming_error():
    with pytest.raises(ValueError, match="no_such_code"):
        describe(Reason("no_such_code"))


# Properties: whatever the data, the hard exclusions hold

POOL = ["NG7", "NG1", "NG8", "S2", "CF10", "LL57", "ZZ99"]
SENSITIVE = ["Sheffield", "Kowalski", "Sunrise", "Marek", "Alfreton", "Łódź"]
FILLER = ["my", "the", "family", "friends", "in", "from", "lives", "community", "street", "car", "NG7", "s2", "2019"]
GENDERS = ["woman", "man", "non_binary", "other", "not_said", ""]
STATUSES = [s.value for s in VolunteerStatus] + ["active"] * 4
MISSING = ["interview", "references", "dbs", "dbs_expired", "training_core", "training_msht", "training_trauma"]
NAMES = ["Alice", "alice", "Bob", "Chloé", "Dafydd", "Efa", ""]

districts = st.one_of(
    st.just(""),
    st.sampled_from(POOL).flatmap(lambda d: st.sampled_from([d, d.lower(), f" {d} ", f"{d} 1AB"])),
)
free_text = st.one_of(
    st.lists(st.sampled_from(SENSITIVE + FILLER), max_size=8).map(" ".join),
    st.text(max_size=30),
)
dates = st.one_of(st.none(), st.dates(min_value=TODAY - timedelta(days=40), max_value=TODAY + timedelta(days=40)))
languages = st.frozensets(st.sampled_from(["en", "pl", "cy", "ro", "sq"]), max_size=3)
slots = st.frozensets(st.sampled_from(SLOTS[:6]), max_size=4)

candidates = st.builds(
    Candidate,
    public_id=st.just(""),
    name=st.sampled_from(NAMES),
    status=st.sampled_from(STATUSES),
    missing=st.one_of(st.just(()), st.lists(st.sampled_from(MISSING), unique=True, max_size=3).map(tuple)),
    dbs_expires_on=dates,
    active_circles=st.integers(0, 4),
    max_circles=st.integers(0, 4),
    circles_completed=st.integers(0, 6),
    gender=st.sampled_from(GENDERS),
    languages=languages,
    home_district=districts,
    availability=slots,
    declared_districts=st.frozensets(districts, max_size=3),
    declared_connections=free_text,
    in_this_circle=st.booleans(),
)
circles = st.builds(
    CircleProfile,
    meeting_slot=st.one_of(st.none(), st.sampled_from(SLOTS[:6])),
    venue_district=districts,
    languages=languages,
    gender_preference=st.sampled_from(GENDERS),
    risk_districts=st.frozensets(districts, max_size=3),
    risk_descriptions=st.lists(free_text, max_size=3).map(tuple),
    member_genders=st.lists(st.sampled_from(GENDERS), max_size=5).map(tuple),
    member_experience=st.lists(st.integers(0, 4), max_size=5).map(tuple),
)
volunteer_lists = st.lists(candidates, max_size=12).map(
    lambda found: [dataclasses.replace(c, public_id=f"v{i}") for i, c in enumerate(found)]
)


def as_district(value: str) -> str:
    return normalise_district(value) or "".join(value.split()).upper()


def sensitive_words(text: str) -> set[str]:
    words = set(re.findall(r"\w+", text.lower()))
    return {word.lower() for word in SENSITIVE} & words


@settings(max_examples=200, deadline=None)
@given(volunteers=volunteer_lists, profile=circles)
def test_no_volunteer_with_a_conflict_or_not_ready_is_ever_proposed(volunteers, profile):
    risk = {as_district(d) for d in profile.risk_districts if d.strip()}
    risk_words = set().union(*(sensitive_words(text) for text in profile.risk_descriptions))
    for proposal in rank(volunteers, profile, TODAY):
        volunteer = proposal.candidate
        if proposal.excluded:
            continue
        assert volunteer.status == "active"
        assert volunteer.missing == ()
        assert volunteer.dbs_expires_on is not None and volunteer.dbs_expires_on > TODAY
        assert volunteer.active_circles < volunteer.max_circles
        assert not volunteer.in_this_circle
        assert not volunteer.home_district.strip() or as_district(volunteer.home_district) not in risk
        assert not {as_district(d) for d in volunteer.declared_districts if d.strip()} & risk
        assert not sensitive_words(volunteer.declared_connections) & risk_words


@settings(max_examples=200, deadline=None)
@given(volunteers=volunteer_lists, profile=circles)
def test_every_volunteer_is_ranked_once_and_every_score_adds_up(volunteers, profile):
    ranked = rank(volunteers, profile, TODAY)
    assert sorted(p.candidate.public_id for p in ranked) == sorted(v.public_id for v in volunteers)
    for proposal in ranked:
        assert proposal.score == sum(reason.points for reason in proposal.contributions)
        assert len(proposal.contributions) == 7


@settings(max_examples=200, deadline=None)
@given(volunteers=volunteer_lists, profile=circles)
def test_the_order_is_eligible_by_score_then_name_then_excluded_by_name(volunteers, profile):
    ranked = rank(volunteers, profile, TODAY)
    flags = [p.excluded for p in ranked]
    assert flags == sorted(flags)
    eligible = [p for p in ranked if not p.excluded]
    excluded = [p for p in ranked if p.excluded]
    assert [(-p.score, p.candidate.name.casefold()) for p in eligible] == sorted(
        (-p.score, p.candidate.name.casefold()) for p in eligible
    )
    assert [p.candidate.name.casefold() for p in excluded] == sorted(p.candidate.name.casefold() for p in excluded)


@settings(max_examples=200, deadline=None)
@given(volunteers=volunteer_lists, profile=circles)
def test_every_reason_given_is_a_known_code_with_an_explanation(volunteers, profile):
    for proposal in rank(volunteers, profile, TODAY):
        for reason in proposal.exclusions:
            assert reason.code in EXCLUSION_CODES and reason.points == 0
        for reason in proposal.contributions:
            assert reason.code in FACTOR_CODES
        for reason in proposal.exclusions + proposal.contributions:
            assert describe(reason).strip()
            hash(reason)
