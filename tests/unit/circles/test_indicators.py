"""Which indicator groups each cohort is checked for, and the shape of the built-in catalogue."""

from __future__ import annotations

import re

import pytest

from circles.indicators import BUILT_IN, EXPLANATION_MAX, GROUP_ORDER, LABEL_MAX, groups_for, new_code


def test_survivors_are_checked_for_risk_of_exploitation_and_wellbeing():
    assert groups_for("survivor") == ("exploitation", "wellbeing")


def test_people_convicted_of_an_offence_are_checked_for_accountability_and_wellbeing():
    assert groups_for("convicted") == ("accountability", "wellbeing")


def test_core_members_who_are_both_are_checked_for_every_group_in_reading_order():
    assert groups_for("both") == ("exploitation", "accountability", "wellbeing")


@pytest.mark.parametrize("cohort", ["", "unknown", "SURVIVOR"])
def test_an_unknown_cohort_is_checked_for_wellbeing_only(cohort):
    assert groups_for(cohort) == ("wellbeing",)


def test_every_group_has_built_in_indicators():
    assert {b.group for b in BUILT_IN} == set(GROUP_ORDER)


def test_built_in_codes_are_unique_and_never_contain_a_hyphen():
    codes = [b.code for b in BUILT_IN]
    assert len(codes) == len(set(codes))
    assert all(re.fullmatch(r"[a-z_]+", code) and len(code) <= 60 for code in codes)


def test_the_built_in_indicators_that_raise_a_concern_are_the_agreed_seven():
    assert {b.code for b in BUILT_IN if b.raises_concern} == {
        "exploiter_contact",
        "went_missing",
        "physical_harm",
        "new_people_at_address",
        "order_breach",
        "former_victim_contact",
        "recruiting_controlling",
    }


def test_built_in_labels_and_explanations_fit_the_limits_coordinators_have():
    for b in BUILT_IN:
        assert 0 < len(b.label) <= LABEL_MAX and 0 < len(b.explanation) <= EXPLANATION_MAX
        assert b.explanation.endswith(".")


def test_a_new_code_is_a_slug_of_the_label_with_a_random_suffix():
    code = new_code("Talks about a “job offer” abroad!")
    assert re.fullmatch(r"talks-about-a-job-offer-abroad-[0-9a-f]{6}", code)
    assert new_code("Talks about a job offer abroad") != new_code("Talks about a job offer abroad")


def test_a_new_code_copes_with_welsh_long_labels_and_labels_without_letters():
    assert new_code("Ŵyr yn y tŷ").startswith("wyr-yn-y-ty-")
    assert re.fullmatch(r"indicator-[0-9a-f]{6}", new_code("!!! ???"))
    long_code = new_code("a very long label " * 20)
    assert len(long_code) <= 60 and "--" not in long_code and "-" in long_code
