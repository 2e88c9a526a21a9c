from datetime import UTC, datetime

import pytest

from cosa import i18n


@pytest.mark.parametrize(
    ("saved", "header", "expected"),
    [
        (None, None, "en_GB"),
        (None, "cy", "cy"),
        (None, "en-US,en;q=0.9", "en_GB"),
        (None, "fr-FR, de;q=0.8, cy;q=0.5", "cy"),
        (None, "cy;q=0.2, en;q=0.9", "en_GB"),
        (None, "cy;q=0", "en_GB"),
        ("cy", "en-GB", "cy"),
        ("en_GB", "cy", "en_GB"),
        ("klingon", "cy", "cy"),
        (None, ";;;q=bad,,*", "en_GB"),
    ],
)
def test_negotiation_order(saved, header, expected):
    assert i18n.negotiate(saved, header) == expected


def test_times_are_shown_in_london_time_across_the_clock_change():
    i18n.set_locale("en_GB")
    # 01:30 UTC on the day the clocks go forward is 02:30 BST.
    assert i18n.format_datetime(datetime(2026, 3, 29, 1, 30, tzinfo=UTC)) == "29 March 2026, 02:30"
    assert i18n.format_datetime(datetime(2026, 1, 10, 9, 0, tzinfo=UTC)) == "10 January 2026, 09:00"


def test_dates_are_in_welsh_for_welsh_users():
    i18n.set_locale("cy")
    try:
        assert i18n.format_date(datetime(2026, 7, 1, 12, tzinfo=UTC)) == "1 Gorffennaf 2026"
    finally:
        i18n.set_locale("en_GB")


def test_html_lang_uses_a_hyphen():
    assert i18n.html_lang("en_GB") == "en-GB"
