from datetime import date

import pytest

from volunteers.rules import Vetting, add_years, dbs_expires_on, missing_for_active, normalise_district, parse_districts

COMPLETE = Vetting(
    interview_on=date(2026, 1, 5),
    reference_1_received_on=date(2026, 1, 9),
    reference_2_received_on=date(2026, 1, 12),
    dbs_certificate_on=date(2025, 12, 1),
    training_core_on=date(2026, 2, 1),
    training_msht_on=date(2026, 2, 8),
    training_trauma_on=date(2026, 2, 15),
)


@pytest.mark.parametrize(
    ("raw", "district"),
    [
        ("ng7", "NG7"),
        (" NG7 ", "NG7"),
        ("CF10", "CF10"),
        ("cf10 1aa", "CF10"),
        ("SW1A", "SW1A"),
        ("EC1A1BB", "EC1A"),
        ("M1", "M1"),
        ("7NG", None),
        ("", None),
        ("NOTAPOSTCODE", None),
        ("<script>", None),
    ],
)
def test_districts_are_normalised(raw, district):
    assert normalise_district(raw) == district


def test_a_list_of_districts_keeps_the_good_and_reports_the_bad():
    assert parse_districts("ng7, NG8;ng7  xx99x cf10") == (["NG7", "NG8", "CF10"], ["xx99x"])


def test_dbs_expiry_follows_the_renewal_period_even_from_a_leap_day():
    assert dbs_expires_on(date(2024, 2, 29), 3) == date(2027, 2, 28)
    assert dbs_expires_on(None, 3) is None
    assert add_years(date(2026, 5, 1), 1) == date(2027, 5, 1)


def test_a_fully_vetted_and_trained_volunteer_may_become_active():
    assert missing_for_active(COMPLETE, date(2026, 11, 27), 3) == []


def test_every_missing_step_is_named():
    empty = Vetting(None, None, None, None, None, None, None)
    assert missing_for_active(empty, date(2026, 11, 27), 3) == [
        "interview",
        "references",
        "dbs",
        "training_core",
        "training_msht",
        "training_trauma",
    ]


def test_an_expired_dbs_check_stops_activation():
    assert missing_for_active(COMPLETE, date(2028, 12, 1), 3) == ["dbs_expired"]
