"""Volunteer rows for tests, written straight to the database."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from cosa.clock import utcnow
from cosa.tables import Region
from tests.integration.conftest import QueryCounter  # noqa: F401 - kept here for the volunteer tests
from volunteers.services import london_today
from volunteers.tables import Volunteer, VolunteerStatusChange


def today() -> date:
    return london_today(utcnow())


def complete_vetting(day: date | None = None) -> dict[str, date]:
    """Every vetting and training date filled in, recently enough that the DBS is in date."""
    day = day or today() - timedelta(days=30)
    return {
        "interview_on": day,
        "reference_1_received_on": day,
        "reference_2_received_on": day,
        "dbs_certificate_on": day,
        "training_core_on": day,
        "training_msht_on": day,
        "training_trauma_on": day,
    }


async def add_volunteer(
    region: Region,
    name: str = "Vera Volunteer",
    *,
    email: str = "",
    status: str = "applicant",
    vetted: bool = False,
    **fields: Any,
) -> Volunteer:
    now = utcnow()
    values: dict[str, Any] = {
        "region": region.id,
        "display_name": name,
        "email": email or name.split()[0].lower() + "@example.net",
        "status": status,
        "status_changed_at": now,
        "applied_on": today() - timedelta(days=90),
        "gender": "woman",
        "languages": ["en"],
        "home_district": "NG7",
        "availability": ["mon-evening"],
        "created_at": now,
        **(complete_vetting() if vetted else {}),
        **fields,
    }
    volunteer = Volunteer(**values)
    await volunteer.save()
    await VolunteerStatusChange(volunteer=volunteer.id, from_status="", to_status=status, changed_at=now).save()
    return volunteer


async def reload(volunteer: Volunteer) -> dict[str, Any]:
    row = await Volunteer.select().where(Volunteer.id == volunteer.id).output(load_json=True).first()
    assert row is not None
    return row
