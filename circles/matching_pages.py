"""The matching page: volunteers proposed for a circle with an explained score; the coordinator invites.

The engine (volunteers/matching.py) is a pure function; this module loads its plain inputs in a fixed
number of queries, whatever the number of volunteers.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.params import FromPath

from circles.circle_pages import circle_or_404, coordinators
from circles.circle_services import circle_state_labels
from circles.core_member_pages import today
from circles.tables import CircleMembership, CircleState, CoreMember, MembershipStatus, RiskConnection
from cosa.choices import slot_for
from cosa.web import render
from volunteers.matching import Candidate, CircleProfile, Proposal, describe, rank
from volunteers.rules import Vetting, dbs_expires_on, missing_for_active
from volunteers.tables import Volunteer, VolunteerStatus

FINISHED = [CircleState.closed.value, CircleState.terminated.value]


async def circle_profile(circle: dict[str, Any]) -> CircleProfile:
    core_member = (
        await CoreMember.select(CoreMember.id, CoreMember.languages, CoreMember.volunteer_gender_preference)
        .where(CoreMember.id == circle["core_member"])
        .output(load_json=True)
        .first()
    )
    assert core_member is not None
    connections = (
        await RiskConnection.select(RiskConnection.districts, RiskConnection.description)
        .where(RiskConnection.core_member == core_member["id"])
        .output(load_json=True)
    )
    members = await CircleMembership.select(CircleMembership.volunteer).where(
        CircleMembership.circle == circle["id"], CircleMembership.status == MembershipStatus.accepted.value
    )
    member_ids = [m["volunteer"] for m in members]
    genders: list[str] = []
    if member_ids:
        genders = [v["gender"] for v in await Volunteer.select(Volunteer.gender).where(Volunteer.id.is_in(member_ids))]
    completed = await completed_circles(member_ids)
    time = circle["meeting_time"]
    return CircleProfile(
        meeting_slot=slot_for(circle["meeting_weekday"], time.hour if time is not None else None),
        venue_district=circle["venue_district"],
        languages=frozenset(core_member["languages"] or []),
        gender_preference=core_member["volunteer_gender_preference"],
        risk_districts=frozenset(d for c in connections for d in (c["districts"] or [])),
        risk_descriptions=tuple(c["description"] for c in connections),
        member_genders=tuple(genders),
        member_experience=tuple(completed.get(i, 0) for i in member_ids),
    )


async def completed_circles(volunteer_ids: list[int]) -> dict[int, int]:
    if not volunteer_ids:
        return {}
    rows = await CircleMembership.select(CircleMembership.volunteer).where(
        CircleMembership.volunteer.is_in(volunteer_ids),
        CircleMembership.status == MembershipStatus.accepted.value,
        CircleMembership.circle._.state == CircleState.closed.value,
    )
    counts: dict[int, int] = {}
    for row in rows:
        counts[row["volunteer"]] = counts.get(row["volunteer"], 0) + 1
    return counts


async def candidates_for(circle: dict[str, Any], on: date, renewal_years: int) -> list[Candidate]:
    """Every volunteer of the circle's region who has not left, as the engine's plain data (three queries)."""
    volunteers = (
        await Volunteer.select()
        .where(Volunteer.region == circle["region"], Volunteer.status != VolunteerStatus.left.value)
        .output(load_json=True)
    )
    memberships = await CircleMembership.select(
        CircleMembership.volunteer, CircleMembership.circle, CircleMembership.status, CircleMembership.circle._.state
    ).where(
        CircleMembership.volunteer._.region == circle["region"],
        CircleMembership.status.is_in([MembershipStatus.invited.value, MembershipStatus.accepted.value]),
    )
    active: dict[int, int] = {}
    completed: dict[int, int] = {}
    in_this: set[int] = set()
    for m in memberships:
        if m["circle"] == circle["id"]:
            in_this.add(m["volunteer"])
        if m["status"] != MembershipStatus.accepted.value:
            continue
        if m["circle.state"] == CircleState.closed.value:
            completed[m["volunteer"]] = completed.get(m["volunteer"], 0) + 1
        elif m["circle.state"] not in FINISHED:
            active[m["volunteer"]] = active.get(m["volunteer"], 0) + 1
    candidates = []
    for v in volunteers:
        vetting = Vetting(
            v["interview_on"],
            v["reference_1_received_on"],
            v["reference_2_received_on"],
            v["dbs_certificate_on"],
            v["training_core_on"],
            v["training_msht_on"],
            v["training_trauma_on"],
        )
        candidates.append(
            Candidate(
                public_id=str(v["public_id"]),
                name=v["display_name"],
                status=v["status"],
                missing=tuple(missing_for_active(vetting, on, renewal_years)),
                dbs_expires_on=dbs_expires_on(v["dbs_certificate_on"], renewal_years),
                active_circles=active.get(v["id"], 0),
                max_circles=v["max_circles"],
                circles_completed=completed.get(v["id"], 0),
                gender=v["gender"],
                languages=frozenset(v["languages"] or []),
                home_district=v["home_district"],
                availability=frozenset(v["availability"] or []),
                declared_districts=frozenset(v["declared_districts"] or []),
                declared_connections=v["declared_connections"],
                in_this_circle=v["id"] in in_this,
            )
        )
    return candidates


def explained(proposal: Proposal) -> dict[str, Any]:
    return {
        "candidate": proposal.candidate,
        "score": round(proposal.score),
        "contributions": [(describe(r), r.points) for r in proposal.contributions],
        "exclusions": [describe(r) for r in proposal.exclusions],
    }


class MatchingController(Controller):
    @get("/circles/{public_id:uuid}/matching", name="circles:matching", guards=[coordinators])
    async def matching(self, request: Request[Any, Any, Any], public_id: FromPath[UUID]) -> Response[Any]:
        circle = await circle_or_404(request, public_id)
        on = today()
        proposals = rank(
            await candidates_for(circle, on, request.app.state.settings.dbs_renewal_years),
            await circle_profile(circle),
            on,
        )
        eligible = [explained(p) for p in proposals if not p.excluded]
        excluded = [explained(p) for p in proposals if p.excluded]
        core_member = (
            await CoreMember.select(CoreMember.full_name).where(CoreMember.id == circle["core_member"]).first()
        )
        seated = await CircleMembership.count().where(
            CircleMembership.circle == circle["id"],
            CircleMembership.status.is_in([MembershipStatus.invited.value, MembershipStatus.accepted.value]),
        )
        return render(
            request,
            "circles/matching.html",
            {
                "circle": circle,
                "core_member_name": core_member["full_name"] if core_member else "",
                "eligible": eligible,
                "excluded": excluded,
                "states": circle_state_labels(),
                "open_seats": max(0, 6 - seated),
                "finished": circle["state"] in FINISHED,
            },
        )
