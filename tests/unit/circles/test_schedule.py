from datetime import UTC, date, datetime, time

from circles.schedule import Booking, clashes, occurrence_dates, occurrences


def test_a_weekly_meeting_keeps_its_local_time_across_the_clock_change():
    # The clocks go back on Sunday 25 October 2026: 18:30 is 17:30 UTC before and 18:30 UTC after.
    series = occurrences("weekly", date(2026, 10, 19), time(18, 30), 90, date(2026, 11, 2), date(2026, 10, 1))
    assert [s.astimezone(UTC).hour for s, _e in series] == [17, 18, 18]
    assert [s.astimezone(UTC).minute for s, _e in series] == [30, 30, 30]
    assert series[0][1] - series[0][0] == (series[0][1] - series[0][0]).__class__(minutes=90)


def test_spring_forward_too():
    series = occurrences("weekly", date(2026, 3, 23), time(18, 30), 60, date(2026, 4, 6), date(2026, 3, 1))
    assert [s.hour for s, _e in series] == [18, 17, 17]


def test_fortnightly_and_once():
    assert occurrence_dates("fortnightly", date(2026, 1, 5), date(2026, 2, 2), date(2027, 1, 1)) == [
        date(2026, 1, 5),
        date(2026, 1, 19),
        date(2026, 2, 2),
    ]
    assert occurrence_dates("once", date(2026, 1, 5), None, date(2027, 1, 1)) == [date(2026, 1, 5)]


def test_monthly_keeps_the_same_weekday_of_the_month():
    # The second Monday of each month.
    assert occurrence_dates("monthly", date(2026, 1, 12), date(2026, 4, 30), date(2027, 1, 1)) == [
        date(2026, 1, 12),
        date(2026, 2, 9),
        date(2026, 3, 9),
        date(2026, 4, 13),
    ]


def test_a_fifth_weekday_falls_back_to_the_last_one():
    assert occurrence_dates("monthly", date(2026, 3, 30), date(2026, 5, 31), date(2027, 1, 1)) == [
        date(2026, 3, 30),
        date(2026, 4, 27),
        date(2026, 5, 25),
    ]


def test_an_open_ended_series_stops_at_the_horizon():
    dates = occurrence_dates("weekly", date(2026, 1, 5), None, date(2026, 3, 2))
    assert dates[-1] == date(2026, 3, 2) and len(dates) == 9


def test_clashes_are_overlaps_only():
    at = datetime(2026, 5, 4, 17, 30, tzinfo=UTC)
    booking = Booking(
        "Alice", "Circle Hazel", datetime(2026, 5, 4, 18, 0, tzinfo=UTC), datetime(2026, 5, 4, 19, 0, tzinfo=UTC)
    )
    later = Booking(
        "Bob", "Circle Oak", datetime(2026, 5, 4, 19, 0, tzinfo=UTC), datetime(2026, 5, 4, 20, 0, tzinfo=UTC)
    )
    assert clashes([(at, datetime(2026, 5, 4, 19, 0, tzinfo=UTC))], [booking, later]) == [(at, booking)]
