import pytest

from circles.lifecycle import CircleFacts, next_states, problems

READY = {"accepted_volunteers": 3, "covenant_signed": True, "state_before_pause": ""}


def facts(state, **overrides):
    return CircleFacts(state=state, **{**READY, **overrides})


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("referred", ["accepted", "terminated"]),
        ("accepted", ["forming", "paused", "terminated"]),
        ("forming", ["active", "paused", "terminated"]),
        ("active", ["tapering", "paused", "terminated"]),
        ("tapering", ["ending", "active", "paused", "terminated"]),
        ("ending", ["closed", "paused", "terminated"]),
        ("closed", []),
        ("terminated", []),
    ],
)
def test_the_lifecycle_moves_one_step_at_a_time(state, expected):
    assert next_states(facts(state)) == expected


def test_a_paused_circle_goes_back_where_it_was():
    assert next_states(facts("paused", state_before_pause="tapering")) == ["tapering", "terminated"]


def test_a_circle_cannot_become_active_with_fewer_than_three_volunteers():
    assert problems(facts("forming", accepted_volunteers=2), "active", "") == ["too_few_volunteers"]


def test_a_circle_cannot_become_active_without_a_signed_covenant():
    assert problems(facts("forming", covenant_signed=False), "active", "") == ["covenant_not_signed"]


def test_resuming_into_active_checks_the_conditions_again():
    paused = facts("paused", state_before_pause="active", accepted_volunteers=1)
    assert problems(paused, "active", "") == ["too_few_volunteers"]


def test_skipping_a_step_is_not_allowed():
    assert problems(facts("referred"), "active", "") == ["not_allowed"]
    assert problems(facts("closed"), "active", "") == ["not_allowed"]


def test_pausing_and_terminating_need_a_reason():
    assert problems(facts("active"), "paused", "  ") == ["reason_required"]
    assert problems(facts("active"), "terminated", "") == ["reason_required"]
    assert problems(facts("active"), "paused", "Recalled to custody") == []


def test_a_ready_circle_may_become_active():
    assert problems(facts("forming"), "active", "") == []
