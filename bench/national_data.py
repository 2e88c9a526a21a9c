"""A national-scale programme in an empty database, for load tests.

    DATABASE_URL=sqlite:////tmp/national.sqlite3 .venv/bin/python bench/national_data.py [--seed 7]

Migrates the database named by DATABASE_URL (SQLite or PostgreSQL), refuses if it already has users, then
inserts 10 regions, 40 coordinators, 30 probation officers, 600 core members with their circles, needs
history and risk connections, 2,500 volunteers in every pipeline state (the active ones with logins),
4-5 volunteers per circle, 30,000 weekly meetings and 150,000 check-ins over the past year. Rows go in a
few hundred per INSERT, inside write transactions (about 25 s on SQLite). Dates are relative to --now
(default: the start of this hour); the same seed and --now give the same rows. Prints row counts, the
time taken and logins to use; every account has the password national-bench-password.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time as clock
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from random import Random
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PASSWORD = "national-bench-password"
TOTP_SECRET = "BENCHBENCHBENCHBENCHBENCHBENCH22"  # every staff account's authenticator key (benchmarks only)
ADMIN_EMAIL = "admin@national.example"
BATCH = 400  # rows per INSERT statement
BATCHES_PER_TRANSACTION = 25


def words(text: str) -> list[str]:
    return text.split()


REGIONS: dict[str, list[str]] = {
    "North East": ["NE1", "NE4", "NE6", "SR1", "SR4", "DH1", "TS1", "TS3"],
    "North West": ["M1", "M8", "M14", "L1", "L4", "L8", "PR1", "BL1"],
    "Yorkshire and the Humber": ["LS1", "LS8", "S1", "S2", "BD3", "HU3", "HD1", "WF1"],
    "East Midlands": ["NG1", "NG3", "NG7", "DE1", "DE22", "LE1", "LE4", "NN1"],
    "West Midlands": ["B1", "B10", "B21", "CV1", "WV1", "WS1", "ST1", "DY1"],
    "East of England": ["CB1", "NR1", "IP1", "PE1", "PE21", "LU1", "CO1", "SS1"],
    "London": ["E1", "E15", "N15", "SE15", "SW9", "W12", "NW10", "IG1"],
    "South East": ["BN1", "SO14", "PO1", "RG1", "OX4", "ME4", "MK9", "GU1"],
    "South West": ["BS1", "BS5", "PL1", "EX1", "BH1", "GL1", "TA1", "SN1"],
    "Wales": ["CF10", "CF24", "SA1", "NP20", "LL11", "LL57", "SA61", "CF37"],
}
COORDINATORS = 40
PROBATION_OFFICERS = 30
CORE_MEMBERS = 600
VOLUNTEERS = 2500
MEETINGS = 30_000
CHECK_INS = 150_000

FIRST = words(
    "Aaliyah Adam Agnieszka Ahmed Aisha Alex Amara Andrei Anna Ben Bilal Bogdan Carys Chloe Chen Daniel "
    "Dariusz Dev Ellie Emeka Emma Eilidh Farah Fatima George Grace Hana Harry Ibrahim Isla Jack Jade "
    "Jamal Joanna Kasia Kwame Laila Leah Liam Lucy Maria Mariusz Mohammed Nadia Niamh Noah Olu Omar Owen "
    "Priya Rhian Ravi Rosa Ruth Sam Sara Sean Sofia Tariq Tom Tomasz Ugne Vikram Wei Yasmin Zainab Zofia"
)
LAST = words(
    "Adeyemi Ahmed Ali Bailey Begum Brown Campbell Chowdhury Clarke Davies Edwards Evans Green Hall "
    "Hughes Hussain Islam Jackson James Jones Kaur Khan Kowalski Lewis Mensah Morgan Murphy Nguyen Nowak "
    "Okafor Owusu Patel Phillips Popescu Price Rahman Roberts Robinson Shah Singh Smith Taylor Thomas "
    "Thompson Walker Ward White Williams Wilson Wood Wright Yilmaz Zielinski"
)
TREES = words(
    "Alder Ash Aspen Beech Birch Blackthorn Box Cedar Cherry Elder Elm Fir Hawthorn Hazel Holly Hornbeam "
    "Juniper Larch Lime Maple Oak Pine Plane Poplar Rowan Spruce Sycamore Willow Yew"
)
LANGUAGES = ["pl", "ro", "sq", "vi", "ar", "ur", "pa", "lt", "ti", "ku", "cy", "bn", "yo"]
VOLUNTEER_STATUSES = ["active"] * 62 + ["resting"] * 8 + ["trained"] * 8 + ["in_vetting"] * 8 + ["applicant"] * 8
VOLUNTEER_STATUSES += ["left"] * 6
CIRCLE_STATES = ["active"] * 55 + ["tapering"] * 18 + ["ending"] * 2 + ["forming"] * 8 + ["paused"] * 7
CIRCLE_STATES += ["closed"] * 10
STATE_PATH = ["referred", "accepted", "forming", "active", "tapering", "ending", "closed"]
OPEN_FOR_CHECK_INS = ("accepted", "forming", "active", "tapering", "ending", "paused")
NEED_AREAS = [
    "accommodation",
    "employment",
    "finances",
    "mental_health",
    "substance_use",
    "immigration",
    "family",
    "isolation",
]
NEED_PROGRESS = [["unmet"], ["unmet", "partly_met"], ["unmet", "partly_met", "met"], ["partly_met", "met"]]
RISKS = [
    ("place", "Car wash on the ring road where workers were housed above the bays", True),
    ("person", "A man known as 'Uncle' who took the workers' wages", False),
    ("community", "A recruitment network working out of a shop on the high street", False),
    ("place", "Agricultural gangmaster sites on the edge of town", False),
    ("person", "A former housemate who arranged travel and held passports", False),
    ("place", "A flat on the estate known for cuckooing", True),
]
MINUTES = (
    "Everyone attended. Talked about the housing application and the job centre appointment. "
    "Agreed to meet at the library next week; no concerns to pass on."
)
NOTES = [
    "Quick call, all fine.",
    "Met for coffee; talked about the new job.",
    "Worried about rent arrears; passed on to the coordinator.",
    "Messages only this week.",
    "Seemed low but engaged; will call again on Friday.",
    "",
    "",
]


@dataclass
class CircleSpec:
    region: int  # index into the regions
    state: str
    code_name: str
    cohort: str
    weekday: int
    at: time
    coordinator: str  # email
    officer: str  # email
    district: str
    members: list[int] = field(default_factory=list)  # volunteer indices
    invited: list[int] = field(default_factory=list)
    past: int = 0  # meetings before today
    upcoming: int = 0
    last_meeting_weeks_ago: int = 0  # paused and closed circles only
    referred: date = date.min
    first: date = date.min  # the first meeting
    state_changed_at: datetime = datetime.min
    id: int = 0


def log(message: str, *, end: str = "\n") -> None:
    sys.stderr.write(message + end)
    sys.stderr.flush()


def make_uuid(rng: Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def name(rng: Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def local(day: date, at: time) -> datetime:
    from cosa.i18n import LONDON

    return datetime.combine(day, at, tzinfo=LONDON).astimezone(UTC)


def next_weekday(after: date, weekday: int) -> date:
    return after + timedelta(days=(weekday - after.weekday()) % 7)


async def insert(table: Any, rows: Sequence[Any], label: str, returning: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Insert rows a batch per statement, BATCHES_PER_TRANSACTION statements per write transaction."""
    from cosa.db import write_transaction

    out: list[dict[str, Any]] = []
    total = len(rows)
    tty = sys.stderr.isatty()
    step = BATCH * BATCHES_PER_TRANSACTION
    for start in range(0, total, step):
        async with write_transaction():
            for offset in range(start, min(start + step, total), BATCH):
                query = table.insert(*rows[offset : offset + BATCH])
                if returning:
                    query = query.returning(*returning)
                result = await query
                if returning:
                    out.extend(result)
                if tty:
                    log(f"\r  {label:<22} {min(offset + BATCH, total):>7}/{total}", end="")
    if tty:
        log("")
    else:
        log(f"  {label:<22} {total:>7}/{total}")
    return out


def plan_circles(rng: Random, coordinators: list[list[str]], officers: list[list[str]]) -> list[CircleSpec]:
    circles = []
    per_region = CORE_MEMBERS // len(REGIONS)
    districts = list(REGIONS.values())
    for i in range(CORE_MEMBERS):
        region = i // per_region
        circles.append(
            CircleSpec(
                region=region,
                state=rng.choice(CIRCLE_STATES),
                code_name=f"Circle {rng.choice(TREES)} {i + 1:03d}",
                cohort=rng.choice(["survivor"] * 5 + ["convicted"] * 3 + ["both"] * 2),
                weekday=rng.randint(0, 4),
                at=rng.choice([time(18, 0), time(18, 30), time(19, 0), time(10, 0), time(14, 0)]),
                coordinator=rng.choice(coordinators[region]),
                officer=rng.choice(officers[region]),
                district=rng.choice(districts[region]),
            )
        )
    # Meetings: forming circles have just started, paused and closed ones have stopped; the circles that
    # meet now share the rest of the 30,000, about 46 behind them and 8 ahead.
    budget = MEETINGS
    meeting_now = []
    for circle in circles:
        if circle.state == "forming":
            circle.past, circle.upcoming = 3, 7
        elif circle.state == "paused":
            circle.past, circle.last_meeting_weeks_ago = 50, rng.randint(1, 8)
        elif circle.state == "closed":
            circle.past, circle.last_meeting_weeks_ago = 50, rng.randint(4, 40)
        else:
            meeting_now.append(circle)
            continue
        budget -= circle.past + circle.upcoming
    share, extra = divmod(budget, len(meeting_now))
    for i, circle in enumerate(meeting_now):
        circle.upcoming = 8
        circle.past = share + (1 if i < extra else 0) - circle.upcoming
    return circles


def assign_members(rng: Random, circles: list[CircleSpec], volunteers: list[dict[str, Any]]) -> None:
    """4-5 accepted volunteers per circle from its region, nobody in more than two circles (or their maximum);
    closed circles may have volunteers who are resting now. Forming circles also have one invitation out."""
    load = [0] * len(volunteers)
    by_region: dict[int, list[int]] = {}
    for index, volunteer in enumerate(volunteers):
        by_region.setdefault(volunteer["region"], []).append(index)

    def pick(region: int, statuses: tuple[str, ...], taken: list[int], count: int) -> list[int]:
        pool = [
            i
            for i in by_region[region]
            if volunteers[i]["status"] in statuses and load[i] < volunteers[i]["max_circles"] and i not in taken
        ]
        rng.shuffle(pool)
        pool.sort(key=lambda i: load[i])  # stable: fill the empty seats first, at random among equals
        chosen = pool[:count]
        for i in chosen:
            load[i] += 1
        return chosen

    order = sorted(range(len(circles)), key=lambda i: circles[i].state == "closed")
    for i in order:
        circle = circles[i]
        statuses = ("active", "resting") if circle.state == "closed" else ("active",)
        circle.members = pick(circle.region, statuses, [], rng.choice([4, 5]))
        if circle.state == "forming":
            circle.invited = pick(circle.region, ("active",), circle.members, 1)


def volunteer_rows(rng: Random, today: date, now: datetime) -> list[dict[str, Any]]:
    from volunteers.rules import SLOTS

    rows = []
    districts = list(REGIONS.values())
    for i in range(VOLUNTEERS):
        region = i % len(REGIONS)
        status = rng.choice(VOLUNTEER_STATUSES)
        vetted = status in ("trained", "active", "resting") or (status == "left" and rng.random() < 0.5)
        dbs_days = rng.randint(20, 1150) if vetted or (status == "in_vetting" and rng.random() < 0.5) else None
        applied = today - timedelta(days=(dbs_days or 20) + rng.randint(50, 90))
        languages = ["en", *rng.sample(LANGUAGES, rng.choice([0, 0, 0, 1, 1, 2]))]
        rows.append(
            {
                "index": i,
                "region": region,
                "public_id": make_uuid(rng),
                "email": f"volunteer{i + 1:04d}@national.example",
                "display_name": name(rng),
                "phone": f"07700 9{rng.randint(10000, 99999)}",
                "status": status,
                "status_changed_at": now - timedelta(days=rng.randint(5, 300)),
                "applied_on": applied,
                "left_reason": rng.choice(["moved_away", "application_not_taken_forward"]) if status == "left" else "",
                "gender": rng.choice(["woman", "woman", "man", "man", "non_binary", ""]),
                "languages": languages,
                "home_district": rng.choice(districts[region]),
                "max_circles": 1 if rng.random() < 0.1 else 2,
                "availability": sorted(rng.sample(SLOTS, rng.randint(1, 6))),
                "declared_connections": "Cousin works at a nail bar in town" if rng.random() < 0.05 else "",
                "declared_districts": [rng.choice(districts[region])] if rng.random() < 0.1 else [],
                "interview_on": applied + timedelta(days=10) if status != "applicant" else None,
                "reference_1_received_on": applied + timedelta(days=20) if vetted or status == "in_vetting" else None,
                "reference_2_received_on": applied + timedelta(days=25) if vetted else None,
                "dbs_certificate_on": today - timedelta(days=dbs_days) if dbs_days is not None else None,
                "training_core_on": applied + timedelta(days=40) if vetted else None,
                "training_msht_on": applied + timedelta(days=45) if vetted else None,
                "training_trauma_on": applied + timedelta(days=50) if vetted else None,
                "vetted": vetted,
            }
        )
    return rows


async def generate(seed: int, now: datetime) -> dict[str, Any]:
    from circles.indicators import ensure_built_in, groups_for
    from circles.tables import (
        CaseNote,
        CheckIn,
        Circle,
        CircleMembership,
        CircleTransition,
        CoreMember,
        Indicator,
        Meeting,
        MeetingSeries,
        NeedChange,
        OuterCircleMember,
        RiskConnection,
    )
    from cosa import second_factor
    from cosa.auth import hash_password
    from cosa.db import prepare_database
    from cosa.i18n import LONDON
    from cosa.settings import get_settings
    from cosa.tables import Region, User
    from volunteers.tables import SupervisionSession, Volunteer, VolunteerStatusChange

    if await User.exists():
        raise SystemExit(
            "This database already has users: national_data.py only fills an empty, migrated database. "
            "Point DATABASE_URL at a new SQLite file or an empty PostgreSQL database."
        )
    await prepare_database()
    rng = Random(seed)
    today = now.astimezone(LONDON).date()
    password_hash = await hash_password(get_settings(), PASSWORD)
    sealed_totp = second_factor.seal(get_settings(), TOTP_SECRET)
    await ensure_built_in()
    indicator_codes: dict[str, list[str]] = {}
    for row in await Indicator.select(Indicator.code, Indicator.group).where(Indicator.active.eq(True)):
        indicator_codes.setdefault(row["group"], []).append(row["code"])

    # Regions and staff.
    rows = await insert(Region, [Region(public_id=make_uuid(rng), name=n) for n in REGIONS], "regions", [Region.id])
    region_ids = [r["id"] for r in rows]
    staff: list[Any] = []
    coordinators: list[list[str]] = [[] for _ in REGIONS]
    officers: list[list[str]] = [[] for _ in REGIONS]

    def account(email: str, role: str, region: int | None, display_name: str) -> Any:
        return User(
            public_id=make_uuid(rng),
            email=email,
            display_name=display_name,
            role=role,
            locale="cy" if region == len(REGIONS) - 1 and rng.random() < 0.3 else "en_GB",
            password_hash=password_hash,
            is_active=True,
            region=region_ids[region] if region is not None else None,
            created_at=now - timedelta(days=400),
            activated_at=now - timedelta(days=399),
            password_changed_at=now - timedelta(days=399),
            totp_secret=sealed_totp if role != "volunteer" else "",
            totp_enabled_at=now - timedelta(days=399) if role != "volunteer" else None,
        )

    staff.append(account(ADMIN_EMAIL, "admin", None, "Ada Admin"))
    for k in range(COORDINATORS):
        email = f"coordinator{k + 1:02d}@national.example"
        coordinators[k % len(REGIONS)].append(email)
        staff.append(account(email, "coordinator", k % len(REGIONS), name(rng)))
    for k in range(PROBATION_OFFICERS):
        email = f"probation{k + 1:02d}@national.example"
        officers[k % len(REGIONS)].append(email)
        staff.append(account(email, "probation", k % len(REGIONS), name(rng)))
    users = {r["email"]: r["id"] for r in await insert(User, staff, "staff users", [User.id, User.email])}

    # Volunteers, with logins for the active ones.
    volunteers = volunteer_rows(rng, today, now)
    logins = [
        account(v["email"], "volunteer", v["region"], v["display_name"]) for v in volunteers if v["status"] == "active"
    ]
    for r in await insert(User, logins, "volunteer users", [User.id, User.email]):
        users[r["email"]] = r["id"]
    columns = {c._meta.name for c in Volunteer._meta.columns}
    rows = await insert(
        Volunteer,
        [
            Volunteer(
                **{k: v for k, v in vol.items() if k in columns and k != "region"},
                region=region_ids[vol["region"]],
                user=users.get(vol["email"]) if vol["status"] == "active" else None,
                created_at=datetime.combine(vol["applied_on"], time(12), tzinfo=UTC),
            )
            for vol in volunteers
        ],
        "volunteers",
        [Volunteer.id, Volunteer.public_id],
    )
    by_public_id = {str(r["public_id"]): r["id"] for r in rows}
    for vol in volunteers:
        vol["id"] = by_public_id[str(vol["public_id"])]
    changes, sessions = [], []
    for vol in volunteers:
        status = vol["status"]
        steps = {
            "applicant": ["applicant"],
            "in_vetting": ["applicant", "in_vetting"],
            "trained": ["applicant", "in_vetting", "trained"],
            "active": ["applicant", "in_vetting", "trained", "active"],
            "resting": ["applicant", "in_vetting", "trained", "active", "resting"],
            "left": ["applicant", "in_vetting", "trained", "active", "left"]
            if vol["vetted"]
            else ["applicant", "in_vetting", "left"],
        }[status]
        coordinator = users[coordinators[vol["region"]][0]]
        previous = ""
        for i, step in enumerate(steps):
            changes.append(
                VolunteerStatusChange(
                    volunteer=vol["id"],
                    from_status=previous,
                    to_status=step,
                    changed_at=vol["status_changed_at"] - timedelta(days=20 * (len(steps) - 1 - i)),
                    changed_by=coordinator,
                    reason=vol["left_reason"] if step == "left" else "",
                )
            )
            previous = step
        if status == "active":
            for _ in range(rng.choice([0, 1, 2, 2, 3])):  # some with none: the supervision alert
                sessions.append(
                    SupervisionSession(
                        public_id=make_uuid(rng),
                        volunteer=vol["id"],
                        coordinator=coordinator,
                        held_on=today - timedelta(days=rng.randint(5, 200)),
                        notes="Talked about boundaries and self-care; no concerns.",
                        created_at=now - timedelta(days=rng.randint(1, 5)),
                    )
                )
    await insert(VolunteerStatusChange, changes, "volunteer status changes")
    await insert(SupervisionSession, sessions, "supervision sessions")

    # Core members, their needs and risk connections; circles, their history and members.
    circles = plan_circles(rng, coordinators, officers)
    assign_members(rng, circles, volunteers)
    core_members = []
    for circle in circles:
        referred = today - timedelta(days=7 * (circle.past + circle.last_meeting_weeks_ago) + rng.randint(60, 120))
        survivor = circle.cohort in ("survivor", "both")
        convicted = circle.cohort in ("convicted", "both")
        circle.referred = referred
        core_members.append(
            CoreMember(
                public_id=make_uuid(rng),
                region=region_ids[circle.region],
                full_name=name(rng),
                known_as="",
                cohort=circle.cohort,
                gender=rng.choice(["man", "man", "woman", "woman", "non_binary"]),
                languages=["en", *rng.sample(LANGUAGES, rng.choice([0, 1, 1]))],
                release_on=referred + timedelta(days=30),
                licence_ends_on=referred + timedelta(days=rng.randint(400, 900)),
                order_conditions="STPO: must not arrange work, travel or housing for anyone else." if convicted else "",
                order_ends_on=referred + timedelta(days=1800) if convicted else None,
                offence_details="Convicted of arranging travel with a view to exploitation (s.2)." if convicted else "",
                address_district=rng.choice(REGIONS[list(REGIONS)[circle.region]]),
                probation_officer=users[circle.officer],
                referred_on=referred,
                referred_by=users[circle.coordinator],
                nrm_referred_on=referred - timedelta(days=200) if survivor else None,
                nrm_reasonable_grounds="positive" if survivor else "",
                nrm_reasonable_grounds_on=referred - timedelta(days=170) if survivor else None,
                nrm_conclusive_grounds="positive" if survivor and rng.random() < 0.5 else "",
                nrm_conclusive_grounds_on=referred - timedelta(days=20) if survivor and rng.random() < 0.5 else None,
                created_at=datetime.combine(referred, time(10), tzinfo=UTC),
                updated_at=now - timedelta(days=rng.randint(1, 60)),
            )
        )
    rows = await insert(CoreMember, core_members, "core members", [CoreMember.id, CoreMember.public_id])
    ids = {str(r["public_id"]): r["id"] for r in rows}
    core_ids = [ids[str(c.public_id)] for c in core_members]
    needs, risks, notes = [], [], []
    for circle, core_id in zip(circles, core_ids, strict=True):
        coordinator = users[circle.coordinator]
        for area in rng.sample(NEED_AREAS, rng.randint(2, 5)):
            for i, status in enumerate(rng.choice(NEED_PROGRESS)):
                changed = circle.referred + timedelta(days=20 + 60 * i)
                needs.append(
                    NeedChange(
                        core_member=core_id,
                        area=area,
                        status=status,
                        changed_on=min(changed, today),
                        changed_at=now,
                        changed_by=coordinator,
                    )
                )
        for kind, description, cuckooing in rng.sample(RISKS, rng.choice([1, 1, 2])):
            risks.append(
                RiskConnection(
                    public_id=make_uuid(rng),
                    core_member=core_id,
                    kind=kind,
                    description=description,
                    districts=[rng.choice(REGIONS[list(REGIONS)[circle.region]])] if kind != "person" else [],
                    cuckooing=cuckooing,
                    created_at=now - timedelta(days=rng.randint(30, 300)),
                    created_by=coordinator,
                )
            )
        notes.append(
            CaseNote(
                public_id=make_uuid(rng),
                core_member=core_id,
                body="Prefers to meet in the afternoon when possible; enjoys football.",
                shared_with_circle=True,
                created_at=now - timedelta(days=rng.randint(10, 100)),
                created_by=coordinator,
            )
        )
    await insert(NeedChange, needs, "need changes")
    await insert(RiskConnection, risks, "risk connections")
    await insert(CaseNote, notes, "case notes")

    circle_rows = []
    for circle, core_id in zip(circles, core_ids, strict=True):
        first_upcoming = next_weekday(today + timedelta(days=1), circle.weekday)
        if circle.upcoming:
            first = first_upcoming - timedelta(weeks=circle.past)
        else:
            first = first_upcoming - timedelta(weeks=circle.last_meeting_weeks_ago + circle.past)
        circle.first = first
        changed = (
            now - timedelta(weeks=circle.last_meeting_weeks_ago)
            if circle.state in ("paused", "closed")
            else now - timedelta(days=rng.randint(1, max(2, 7 * circle.past)))
        )
        circle.state_changed_at = changed
        signed = circle.state not in ("forming",)
        circle_rows.append(
            Circle(
                public_id=make_uuid(rng),
                code_name=circle.code_name,
                core_member=core_id,
                region=region_ids[circle.region],
                coordinator=users[circle.coordinator],
                state=circle.state,
                state_before_pause=rng.choice(["active", "tapering"]) if circle.state == "paused" else "",
                state_changed_at=changed,
                meeting_weekday=circle.weekday,
                meeting_time=circle.at,
                venue="Community centre, meeting room 2",
                venue_district=circle.district,
                check_in_every_days=7,
                covenant_text="We meet every week at the agreed time and place." if signed else "",
                covenant_version=1 if signed else 0,
                covenant_signed_on=first if signed else None,
                created_at=datetime.combine(circle.referred, time(11), tzinfo=UTC),
            )
        )
    rows = await insert(Circle, circle_rows, "circles", [Circle.id, Circle.public_id])
    ids = {str(r["public_id"]): r["id"] for r in rows}
    for circle, row in zip(circles, circle_rows, strict=True):
        circle.id = ids[str(row.public_id)]

    transitions, memberships, outer, series = [], [], [], []
    for circle in circles:
        coordinator = users[circle.coordinator]
        target = circle.state if circle.state != "paused" else "active"
        walk = STATE_PATH[: STATE_PATH.index(target) + 1] + (["paused"] if circle.state == "paused" else [])
        started = datetime.combine(circle.referred, time(11), tzinfo=UTC)
        span = (circle.state_changed_at - started) / len(walk)
        previous = ""
        for i, step in enumerate(walk):
            transitions.append(
                CircleTransition(
                    circle=circle.id,
                    from_state=previous,
                    to_state=step,
                    reason="Recalled to custody; the circle will resume on release." if step == "paused" else "",
                    at=started + span * (i + 1),
                    by=coordinator,
                )
            )
            previous = step
        joined = datetime.combine(circle.first, time(9), tzinfo=UTC) - timedelta(days=14)
        for status, people in (("accepted", circle.members), ("invited", circle.invited)):
            for index in people:
                memberships.append(
                    CircleMembership(
                        public_id=make_uuid(rng),
                        circle=circle.id,
                        volunteer=volunteers[index]["id"],
                        status=status,
                        invited_at=joined if status == "accepted" else now - timedelta(days=2),
                        invited_by=coordinator,
                        responded_at=joined + timedelta(days=2) if status == "accepted" else None,
                    )
                )
        if circle.state != "forming":
            outer.append(
                OuterCircleMember(
                    public_id=make_uuid(rng),
                    circle=circle.id,
                    name=name(rng),
                    organisation="City Homes",
                    role="Housing officer",
                    email="housing@housing.example",
                )
            )
        series.append(
            MeetingSeries(
                public_id=make_uuid(rng),
                circle=circle.id,
                frequency="weekly",
                local_time=circle.at,
                duration_minutes=90,
                first_on=circle.first,
                until_on=None if circle.upcoming else circle.first + timedelta(weeks=circle.past - 1),
                venue="Community centre, meeting room 2",
                created_at=datetime.combine(circle.first, time(9), tzinfo=UTC) - timedelta(days=7),
                created_by=coordinator,
            )
        )
    await insert(CircleTransition, transitions, "circle transitions")
    await insert(CircleMembership, memberships, "memberships")
    await insert(OuterCircleMember, outer, "outer circle members")
    rows = await insert(MeetingSeries, series, "meeting series", [MeetingSeries.id, MeetingSeries.public_id])
    ids = {str(r["public_id"]): r["id"] for r in rows}

    # Meetings: weekly, some cancelled, minutes on the past ones (a few recent ones still owed).
    meetings = []
    for circle, row in zip(circles, series, strict=True):
        series_id = ids[str(row.public_id)]
        coordinator = users[circle.coordinator]
        takers = [volunteers[i]["id"] for i in circle.members]
        for k in range(circle.past + circle.upcoming):
            starts = local(circle.first + timedelta(weeks=k), circle.at)
            ends = starts + timedelta(minutes=90)
            past = ends < now
            cancelled = rng.random() < 0.05
            taker = takers[k % len(takers)] if takers and (past or k == circle.past) and not cancelled else None
            minutes_status, minutes = "", ""
            submitted = approved = shared = None
            if past and taker is not None:
                age = now - ends
                if age > timedelta(days=21) or rng.random() < 0.5:
                    minutes_status, minutes = "approved", MINUTES
                    submitted, approved = ends + timedelta(days=1), ends + timedelta(days=3)
                    shared = approved if rng.random() < 0.3 else None
                else:
                    minutes_status = rng.choice(["", "draft", "submitted"])
                    minutes = MINUTES if minutes_status else ""
                    submitted = ends + timedelta(days=1) if minutes_status == "submitted" else None
            meetings.append(
                Meeting(
                    public_id=make_uuid(rng),
                    circle=circle.id,
                    series=series_id,
                    starts_at=starts,
                    ends_at=ends,
                    venue="Community centre, meeting room 2",
                    cancelled_at=min(starts - timedelta(days=2), now) if cancelled else None,
                    cancelled_reason="Venue unavailable" if cancelled else "",
                    minute_taker=taker,
                    minutes=minutes,
                    minutes_status=minutes_status,
                    minutes_submitted_at=submitted,
                    minutes_approved_at=approved,
                    minutes_approved_by=coordinator if approved else None,
                    minutes_shared_at=shared,
                    created_at=row.created_at,
                )
            )
    await insert(Meeting, meetings, "meetings")

    # Check-ins over the past year, in proportion to how long each circle has met in it.
    year_ago = now - timedelta(days=365)
    windows = []
    for circle in circles:
        start = max(local(circle.first, time(0)), year_ago)
        stop = now if circle.upcoming else local(circle.first + timedelta(weeks=circle.past), time(0))
        windows.append((start, stop, max(0.0, (stop - start).total_seconds()) if circle.members else 0.0))
    total_weight = sum(w for _, _, w in windows)
    shares = [CHECK_INS * w / total_weight for _, _, w in windows]
    counts = [int(s) for s in shares]
    for i in sorted(range(len(shares)), key=lambda i: shares[i] - counts[i], reverse=True)[: CHECK_INS - sum(counts)]:
        counts[i] += 1
    check_ins = []
    for circle, (start, stop, _), count in zip(circles, windows, counts, strict=True):
        codes = [code for group in groups_for(circle.cohort) for code in indicator_codes.get(group, [])]
        span = (stop - start).total_seconds()
        for _ in range(count):
            happened = start + timedelta(seconds=rng.random() * span)
            check_ins.append(
                CheckIn(
                    public_id=make_uuid(rng),
                    circle=circle.id,
                    volunteer=volunteers[rng.choice(circle.members)]["id"],
                    idempotency_key=f"{rng.getrandbits(128):032x}",
                    happened_at=happened,
                    method=rng.choice(["phone", "phone", "in_person", "message", "message", "other"]),
                    wellbeing=rng.choice([0, 2, 3, 3, 4, 4, 5]),
                    indicators=rng.sample(codes, rng.choice([1, 1, 2])) if codes and rng.random() < 0.12 else [],
                    notes=rng.choice(NOTES),
                    created_at=min(happened + timedelta(minutes=rng.randint(2, 600)), now),
                )
            )
    check_ins.sort(key=lambda row: row.happened_at)  # ids in the order they were logged, as in real life
    await insert(CheckIn, check_ins, "check-ins")

    # Logins to try: a coordinator whose region is full of circles, volunteers in one and two open circles.
    open_count = [0] * len(volunteers)
    for circle in circles:
        if circle.state in OPEN_FOR_CHECK_INS:
            for i in circle.members:
                open_count[i] += 1
    one = next(v["email"] for v in volunteers if open_count[v["index"]] == 1 and v["status"] == "active")
    two = next((v["email"] for v in volunteers if open_count[v["index"]] == 2 and v["status"] == "active"), one)
    return {"coordinator": coordinators[0][0], "volunteer": one, "volunteer_two_circles": two}


async def row_counts() -> dict[str, int]:
    from circles import tables as circles_tables
    from cosa import tables as cosa_tables
    from volunteers import tables as volunteer_tables

    counts = {}
    for module in (cosa_tables, volunteer_tables, circles_tables):
        for table in vars(module).values():
            if isinstance(table, type) and table.__module__ == module.__name__ and hasattr(table, "_meta"):
                counts[table._meta.tablename] = await table.count()
    return counts


async def volunteer_logins(limit: int) -> list[str]:
    """Emails of active volunteers with a login and at least one open circle (for load.py)."""
    from circles.tables import Circle, CircleMembership
    from volunteers.tables import Volunteer

    serving = CircleMembership.select(CircleMembership.volunteer).where(
        CircleMembership.status == "accepted",
        CircleMembership.circle.is_in(Circle.select(Circle.id).where(Circle.state.is_in(list(OPEN_FOR_CHECK_INS)))),
    )
    rows = (
        await Volunteer.select(Volunteer.user._.email)
        .where(Volunteer.id.is_in(serving), Volunteer.user.is_not_null(), Volunteer.user._.is_active.eq(True))
        .order_by(Volunteer.id)
    )
    emails = [r["user.email"] for r in rows]
    Random(len(emails)).shuffle(emails)  # spread over the regions, the same set every time
    return emails[:limit]


async def coordinator_logins(limit: int) -> list[str]:
    from cosa.tables import User

    rows = await User.select(User.email).where(User.role == "coordinator", User.is_active.eq(True)).order_by(User.id)
    return [r["email"] for r in rows][:limit]


def migrate() -> None:
    # Piccolo's progress goes to stderr with ours, so stdout holds only the summary.
    result = subprocess.run(
        [sys.executable, "-m", "cosa", "migrate"], cwd=ROOT, env=os.environ.copy(), stdout=sys.stderr, check=False
    )
    if result.returncode != 0:
        raise SystemExit("Migrations failed (see above).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--now",
        type=datetime.fromisoformat,
        default=datetime.now(UTC).replace(minute=0, second=0, microsecond=0),
        help="the moment the data is generated around, ISO 8601 with an offset (default: this hour, UTC); "
        "the same seed and moment give the same rows",
    )
    args = parser.parse_args()
    if args.now.tzinfo is None:
        raise SystemExit("--now needs a UTC offset, e.g. 2026-11-27T13:00+00:00")
    url = os.environ.get("DATABASE_URL", "") or "sqlite:///var/cosa.sqlite3"
    log(f"Database: {url}\nMigrating...")
    started = clock.perf_counter()
    migrate()
    logins = asyncio.run(generate(args.seed, args.now.astimezone(UTC)))
    elapsed = clock.perf_counter() - started
    counts = asyncio.run(row_counts())
    print("\nRows:")
    for table, count in counts.items():
        if count:
            print(f"  {table:<28} {count:>8,}")
    print(f"  {'total':<28} {sum(counts.values()):>8,}")
    print(f"\nGenerated in {elapsed:.1f} s (seed {args.seed}, around {args.now.isoformat()}).")
    print("\nLogins (every account has the same password):")
    print(f"  coordinator                   {logins['coordinator']}")
    print(f"  volunteer (one circle)        {logins['volunteer']}")
    print(f"  volunteer (two circles)       {logins['volunteer_two_circles']}")
    print(f"  admin                         {ADMIN_EMAIL}")
    print(f"  password                      {PASSWORD}")


if __name__ == "__main__":
    main()
