"""When meetings happen: occurrences of a series in Europe/London wall-clock time, and clashes.

Pure functions. A weekly 18:30 meeting stays at 18:30 local time across the clock changes, so its UTC
time moves by an hour twice a year.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from circles.tables import Frequency
from cosa.i18n import LONDON

OPEN_ENDED_WEEKS = 26  # how far ahead a series without an end date is scheduled (a daily job tops it up)
MAX_OCCURRENCES = 120


def local_to_utc(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The nth (1-based) given weekday of a month, or the last one when the month has fewer."""
    days = [d for d in calendar.Calendar().itermonthdates(year, month) if d.month == month and d.weekday() == weekday]
    return days[min(n, len(days)) - 1]


def add_months(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def occurrence_dates(frequency: str, first_on: date, until_on: date | None, horizon: date) -> list[date]:
    """The dates of a series from its first date up to its end date (or the horizon), at most MAX_OCCURRENCES."""
    last = min(until_on, horizon) if until_on else horizon
    if frequency == Frequency.once:
        return [first_on]
    dates: list[date] = []
    if frequency in (Frequency.weekly, Frequency.fortnightly):
        step = timedelta(weeks=1 if frequency == Frequency.weekly else 2)
        day = first_on
        while day <= last and len(dates) < MAX_OCCURRENCES:
            dates.append(day)
            day += step
        return dates
    # Monthly: the same weekday in the same week of the month (e.g. the second Monday), as circles meet.
    n = (first_on.day - 1) // 7 + 1
    for i in range(MAX_OCCURRENCES):
        year, month = add_months(first_on, i)
        day = nth_weekday(year, month, first_on.weekday(), n)
        if day > last:
            break
        dates.append(day)
    return dates


def occurrences(
    frequency: str, first_on: date, local_time: time, duration_minutes: int, until_on: date | None, today: date
) -> list[tuple[datetime, datetime]]:
    """(start, end) in UTC of every meeting in a series."""
    horizon = today + timedelta(weeks=OPEN_ENDED_WEEKS)
    out = []
    for day in occurrence_dates(frequency, first_on, until_on, horizon):
        starts = local_to_utc(day, local_time)
        out.append((starts, starts + timedelta(minutes=duration_minutes)))
    return out


@dataclass(frozen=True)
class Booking:
    """A meeting a volunteer already has: used to warn about clashes."""

    volunteer: str
    circle: str
    starts_at: datetime
    ends_at: datetime


def clashes(
    planned: Iterable[tuple[datetime, datetime]], bookings: Iterable[Booking]
) -> list[tuple[datetime, Booking]]:
    """Each planned meeting (by its start) that overlaps a volunteer's meeting in another circle."""
    found = []
    bookings = list(bookings)
    for starts, ends in planned:
        for booking in bookings:
            if starts < booking.ends_at and booking.starts_at < ends:
                found.append((starts, booking))
    return found
