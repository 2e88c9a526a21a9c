"""Builders for core members, circles and volunteers, on top of the shared cast."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from circles.tables import Circle, CircleMembership, CircleTransition, CoreMember, RiskConnection
from cosa.clock import utcnow
from volunteers.tables import Volunteer

TODAY = date.today()


async def make_core_member(region: Any, officer: Any = None, **fields: Any) -> CoreMember:
    now = utcnow()
    values: dict[str, Any] = {
        "full_name": "Daniel Mensah",
        "known_as": "Dan",
        "cohort": "survivor",
        "gender": "man",
        "languages": ["en"],
        "referred_on": TODAY - timedelta(days=30),
        "offence_details": "OFFENCE-DETAIL-CANARY",
        "order_conditions": "ORDER-CANARY",
        "region": region.id,
        "probation_officer": officer.id if officer else None,
        "created_at": now,
        "updated_at": now,
    }
    values.update(fields)
    core_member = CoreMember(**values)
    await core_member.save()
    return core_member


async def make_volunteer(region: Any, name: str, *, user: Any = None, **fields: Any) -> Volunteer:
    """A fully vetted, trained, active volunteer unless told otherwise."""
    values: dict[str, Any] = {
        "display_name": name,
        "email": name.split()[0].lower() + "@volunteers.example",
        "region": region.id,
        "user": user.id if user else None,
        "status": "active",
        "status_changed_at": utcnow(),
        "applied_on": TODAY - timedelta(days=200),
        "gender": "woman",
        "languages": ["en"],
        "home_district": "NG1",
        "max_circles": 2,
        "availability": ["mon-evening"],
        "interview_on": TODAY - timedelta(days=180),
        "reference_1_received_on": TODAY - timedelta(days=170),
        "reference_2_received_on": TODAY - timedelta(days=170),
        "dbs_certificate_on": TODAY - timedelta(days=160),
        "training_core_on": TODAY - timedelta(days=150),
        "training_msht_on": TODAY - timedelta(days=150),
        "training_trauma_on": TODAY - timedelta(days=150),
        "created_at": utcnow(),
    }
    values.update(fields)
    volunteer = Volunteer(**values)
    await volunteer.save()
    return volunteer


async def make_circle(core_member: CoreMember, coordinator: Any, **fields: Any) -> Circle:
    now = utcnow()
    values: dict[str, Any] = {
        "code_name": "Circle Rowan",
        "core_member": core_member.id,
        "region": core_member.region,
        "coordinator": coordinator.id,
        "state": "forming",
        "state_changed_at": now,
        "venue_district": "NG1",
        "created_at": now,
    }
    values.update(fields)
    circle = Circle(**values)
    await circle.save()
    await CircleTransition(circle=circle.id, from_state="", to_state=circle.state, at=now, by=coordinator.id).save()
    return circle


async def seat(circle: Circle, volunteer: Volunteer, status: str = "accepted") -> CircleMembership:
    membership = CircleMembership(
        circle=circle.id, volunteer=volunteer.id, status=status, invited_at=utcnow(), responded_at=utcnow()
    )
    await membership.save()
    return membership


@pytest.fixture
async def programme(cast: Any) -> Any:
    """Circle A (north, forming) with volunteers Alice and Bob seated; circle B (north) with Charlie."""
    core_a = await make_core_member(cast.north, cast.probation, address_district="NG7")
    await RiskConnection(
        core_member=core_a.id,
        kind="place",
        description="A car wash in Sneinton",
        districts=["NG7", "NG3"],
        cuckooing=True,
        created_at=utcnow(),
    ).save()
    core_b = await make_core_member(
        cast.north,
        cast.probation_other,
        full_name="Ewa Nowak",
        known_as="",
        cohort="both",
        gender="woman",
        languages=["pl"],
    )
    circle_a = await make_circle(core_a, cast.coordinator)
    circle_b = await make_circle(core_b, cast.coordinator, code_name="Circle Hazel")
    alice = await make_volunteer(cast.north, "Alice Volunteer", user=cast.volunteer_a1)
    bob = await make_volunteer(cast.north, "Bob Volunteer", user=cast.volunteer_a2, gender="man")
    charlie = await make_volunteer(cast.north, "Charlie Volunteer", user=cast.volunteer_b)
    await seat(circle_a, alice)
    await seat(circle_a, bob)
    await seat(circle_b, charlie)
    cast.core_a, cast.core_b, cast.circle_a, cast.circle_b = core_a, core_b, circle_a, circle_b
    cast.alice, cast.bob, cast.charlie = alice, bob, charlie
    return cast
