"""What the coordinator's dashboard flags about volunteers: DBS expired or expiring, supervision overdue."""

from __future__ import annotations

from datetime import date, timedelta

from cosa.clock import utcnow
from tests.integration.volunteers.helpers import QueryCounter, add_volunteer
from volunteers.rules import add_years
from volunteers.services import coordinator_alerts, months_before
from volunteers.tables import SupervisionSession

TODAY = date(2026, 6, 15)
YEARS = 3


def names(items: list[dict]) -> list[str]:
    return [item["display_name"] for item in items]


async def supervise(volunteer, held_on: date) -> None:
    await SupervisionSession(volunteer=volunteer.id, held_on=held_on, created_at=utcnow()).save()


async def test_dbs_expired_and_expiring_within_60_days(cast):
    renewal_day = add_years(TODAY, -YEARS)
    await add_volunteer(cast.north, "Ann Expired", status="active", dbs_certificate_on=renewal_day - timedelta(days=10))
    await add_volunteer(cast.north, "Ben Today", status="resting", dbs_certificate_on=renewal_day)
    await add_volunteer(cast.north, "Cat Soon", status="trained", dbs_certificate_on=renewal_day + timedelta(days=60))
    await add_volunteer(cast.north, "Dee Later", status="active", dbs_certificate_on=renewal_day + timedelta(days=61))
    await add_volunteer(cast.north, "Eve Left", status="left", dbs_certificate_on=renewal_day - timedelta(days=10))
    await add_volunteer(cast.north, "Fay Applicant", status="in_vetting", dbs_certificate_on=date(2010, 1, 1))
    await add_volunteer(cast.south, "Gus South", status="active", dbs_certificate_on=date(2010, 1, 1))
    alerts = await coordinator_alerts(cast.north.id, TODAY, YEARS)
    assert names(alerts["dbs_expired"]) == ["Ann Expired", "Ben Today"]
    assert alerts["dbs_expired"][0]["date"] == add_years(renewal_day - timedelta(days=10), YEARS)
    assert names(alerts["dbs_expiring"]) == ["Cat Soon"]
    assert alerts["dbs_expiring"][0]["date"] == TODAY + timedelta(days=60)
    assert alerts["dbs_expiring"][0]["dbs_expires_on"] == alerts["dbs_expiring"][0]["date"]


async def test_the_renewal_period_decides_expiry(cast):
    await add_volunteer(cast.north, "Ann", status="active", dbs_certificate_on=TODAY - timedelta(days=400))
    assert names((await coordinator_alerts(cast.north.id, TODAY, 1))["dbs_expired"]) == ["Ann"]
    assert (await coordinator_alerts(cast.north.id, TODAY, 3))["dbs_expired"] == []


async def test_a_certificate_from_29_february(cast):
    await add_volunteer(cast.north, "Leap", status="active", dbs_certificate_on=date(2024, 2, 29))
    on_the_day = await coordinator_alerts(cast.north.id, date(2027, 2, 28), 3)
    assert names(on_the_day["dbs_expired"]) == ["Leap"]
    the_day_before = await coordinator_alerts(cast.north.id, date(2027, 2, 27), 3)
    assert names(the_day_before["dbs_expiring"]) == ["Leap"]


async def test_active_volunteers_without_supervision_for_three_months(cast):
    cutoff = months_before(TODAY, 3)
    never = await add_volunteer(cast.north, "Nia Never", status="active")
    overdue = await add_volunteer(cast.north, "Omar Overdue", status="active")
    await supervise(overdue, cutoff - timedelta(days=1))
    await supervise(overdue, cutoff - timedelta(days=100))
    recent = await add_volunteer(cast.north, "Rhys Recent", status="active")
    await supervise(recent, cutoff - timedelta(days=50))
    await supervise(recent, cutoff)
    resting = await add_volunteer(cast.north, "Sara Resting", status="resting")
    await supervise(resting, date(2020, 1, 1))
    await add_volunteer(cast.south, "Tom South", status="active")
    alerts = await coordinator_alerts(cast.north.id, TODAY, YEARS)
    assert names(alerts["no_supervision"]) == ["Nia Never", "Omar Overdue"]
    assert alerts["no_supervision"][0] == {
        "public_id": never.public_id,
        "display_name": "Nia Never",
        "date": None,
        "last_supervision": None,
    }
    assert alerts["no_supervision"][1]["last_supervision"] == cutoff - timedelta(days=1)


async def test_nothing_to_flag(cast):
    assert await coordinator_alerts(cast.north.id, TODAY, YEARS) == {
        "dbs_expired": [],
        "dbs_expiring": [],
        "no_supervision": [],
    }


async def test_the_number_of_queries_does_not_grow_with_volunteers(cast, monkeypatch):
    counter = QueryCounter(monkeypatch)
    await add_volunteer(cast.north, "One", status="active", dbs_certificate_on=date(2020, 1, 1))
    few = await counter.during(coordinator_alerts(cast.north.id, TODAY, YEARS))
    for i in range(20):
        v = await add_volunteer(cast.north, f"Many {i}", status="active", dbs_certificate_on=date(2020, 1, 1))
        await supervise(v, TODAY - timedelta(days=200))
    many = await counter.during(coordinator_alerts(cast.north.id, TODAY, YEARS))
    assert 0 < many == few <= 3


def test_months_before_keeps_to_real_dates():
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 3) == date(2025, 10, 15)
    assert months_before(date(2024, 5, 29), 3) == date(2024, 2, 29)
