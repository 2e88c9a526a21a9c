"""A realistic demo programme: circles in every stage, volunteers in every pipeline state, and the
conflicts, expired checks and quiet corners that matching and the dashboard should show."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from typing import Any

from circles.tables import (
    CaseNote,
    Circle,
    CircleMembership,
    CircleTransition,
    CoreMember,
    NeedChange,
    OuterCircleMember,
    RiskConnection,
)
from cosa.i18n import LONDON
from volunteers.tables import SupervisionSession, Volunteer, VolunteerStatusChange

COVENANT = (
    "We meet every week at the agreed time and place.\\n"
    "We keep what is said in the circle within the circle, except where someone may be at risk of harm.\\n"
    "Volunteers do not lend money, give gifts or meet the core member alone at home.\\n"
    "Concerns are shared with the coordinator the same day."
)

# name, gender, languages, home district, status, days since DBS certificate (None: no check yet), extra
VOLUNTEERS: list[tuple[str, str, list[str], str, str, int | None, dict[str, Any]]] = [
    (
        "Val Volunteer",
        "woman",
        ["en"],
        "NG5",
        "active",
        400,
        {"user": "volunteer@example.org", "availability": ["mon-evening", "wed-evening"]},
    ),
    ("Amir Hussain", "man", ["en", "ur", "pa"], "NG3", "active", 300, {"availability": ["mon-evening", "sat-morning"]}),
    ("Beth Collins", "woman", ["en"], "NG2", "active", 200, {"availability": ["mon-evening"]}),
    ("Chidi Okoro", "man", ["en", "yo"], "NG9", "active", 500, {"availability": ["tue-evening", "mon-evening"]}),
    (
        "Dorota Kowalska",
        "woman",
        ["pl", "en"],
        "NG7",
        "active",
        250,
        {"availability": ["mon-evening"], "declared_connections": "Lives near the car wash on Radford Road"},
    ),
    ("Elena Marin", "woman", ["ro", "en"], "DE1", "active", 1200, {"availability": ["mon-evening"]}),  # DBS expired
    (
        "Faisal Rahman",
        "man",
        ["en", "bn"],
        "NG1",
        "active",
        1080,
        {"availability": ["thu-evening"]},
    ),  # DBS expiring soon
    ("Gwen Harris", "woman", ["en", "cy"], "NG11", "active", 100, {"max_circles": 1, "availability": ["mon-evening"]}),
    (
        "Hannah Brooks",
        "woman",
        ["en"],
        "LE1",
        "active",
        150,
        {"declared_districts": ["NG3"], "declared_connections": "Brother lives in Sneinton"},
    ),
    ("Isaac Mensah", "man", ["en"], "NG8", "active", 90, {"availability": ["sat-morning"]}),
    ("Jas Kaur", "woman", ["en", "pa"], "NG10", "resting", 600, {}),
    ("Kofi Asante", "man", ["en"], "NG4", "resting", 700, {}),
    ("Laura Finch", "woman", ["en"], "NG6", "trained", 60, {}),
    ("Marek Nowak", "man", ["pl", "en"], "NG15", "trained", 45, {}),
    ("Nadia Petrova", "woman", ["bg", "en"], "DE22", "trained", 30, {}),
    ("Owen Pritchard", "man", ["en"], "NG12", "in_vetting", 20, {}),
    ("Priti Shah", "woman", ["en", "gu"], "LE2", "in_vetting", None, {}),
    ("Quentin Blake", "man", ["en"], "NG14", "in_vetting", None, {}),
    ("Rosa Delgado", "woman", ["es", "en"], "NG5", "applicant", None, {}),
    ("Sami Yusuf", "man", ["en", "ar"], "NG7", "applicant", None, {}),
    ("Tess Walker", "woman", ["en"], "NG2", "applicant", None, {}),
    ("Uma Patel", "woman", ["en", "gu"], "LE4", "left", 900, {"left_reason": "moved_away"}),
    ("Victor Lungu", "man", ["ro", "en"], "NG16", "left", None, {"left_reason": "application_not_taken_forward"}),
]

# code name, core member, cohort, gender, languages, address district, stage, members, days in stage
CIRCLES: list[dict[str, Any]] = [
    {
        "code": "Circle Rowan",
        "name": "Daniel Mensah",
        "known_as": "Dan",
        "cohort": "survivor",
        "gender": "man",
        "languages": ["en"],
        "address": "NG7",
        "state": "active",
        "members": ["Val Volunteer", "Amir Hussain", "Chidi Okoro", "Gwen Harris"],
        "officer": "probation@example.org",
        "risk": [
            ("place", "Car wash on Radford Road where he was made to work", ["NG7"], True),
            ("person", "A man known as 'Uncle', who controlled the workers' wages", [], False),
        ],
        "needs": {
            "accommodation": ["unmet", "partly_met", "met"],
            "employment": ["unmet", "partly_met"],
            "finances": ["unmet"],
            "isolation": ["unmet", "partly_met"],
        },
    },
    {
        "code": "Circle Hazel",
        "name": "Ewa Nowak",
        "known_as": "",
        "cohort": "both",
        "gender": "woman",
        "languages": ["pl"],
        "address": "NG3",
        "state": "forming",
        "members": ["Beth Collins", "Isaac Mensah"],
        "invited": ["Val Volunteer"],
        "officer": "tom.price@example.org",
        "risk": [("community", "A recruitment network working out of a shop in Sneinton", ["NG3"], False)],
        "nrm": 420,
        "needs": {"accommodation": ["unmet"], "immigration": ["unmet"], "mental_health": ["partly_met"]},
    },
    {
        "code": "Circle Alder",
        "name": "Tomasz Wiśniewski",
        "known_as": "Tom",
        "cohort": "convicted",
        "gender": "man",
        "languages": ["pl", "en"],
        "address": "NG9",
        "state": "tapering",
        "members": ["Amir Hussain", "Chidi Okoro", "Dorota Kowalska"],
        "officer": "probation@example.org",
        "risk": [("place", "Agricultural gangmaster sites near Boston", ["PE21"], False)],
        "order": "STPO: must not arrange work, travel or housing for anyone else; must not hold anyone else's documents.",
        "needs": {
            "employment": ["unmet", "met"],
            "substance_use": ["partly_met", "met"],
            "family": ["unmet", "partly_met"],
        },
    },
    {
        "code": "Circle Birch",
        "name": "Grace Adeyemi",
        "known_as": "",
        "cohort": "survivor",
        "gender": "woman",
        "languages": ["en", "yo"],
        "address": "NG1",
        "state": "paused",
        "before_pause": "active",
        "members": ["Beth Collins", "Isaac Mensah", "Elena Marin"],
        "officer": "tom.price@example.org",
        "pause_reason": "Recalled to custody; the circle will resume on release.",
        "nrm": 610,
        "needs": {"mental_health": ["unmet"], "finances": ["unmet", "partly_met"]},
    },
    {
        "code": "Circle Willow",
        "name": "Mohammed Karimi",
        "known_as": "Mo",
        "cohort": "survivor",
        "gender": "man",
        "languages": ["fa", "en"],
        "address": "NG2",
        "state": "referred",
        "members": [],
        "officer": "probation@example.org",
        "nrm": 120,
        "needs": {},
    },
    {
        "code": "Circle Oak",
        "name": "Liam O'Connor",
        "known_as": "",
        "cohort": "convicted",
        "gender": "man",
        "languages": ["en"],
        "address": "NG5",
        "state": "closed",
        "members": ["Val Volunteer", "Chidi Okoro", "Gwen Harris"],
        "officer": "probation@example.org",
        "needs": {"accommodation": ["unmet", "met"], "employment": ["unmet", "met"]},
    },
]


async def seed_programme(regions: dict[str, int], users: dict[str, int], now: datetime) -> None:
    rng = random.Random(7)
    today = now.astimezone(LONDON).date()
    region = regions["East Midlands"]
    coordinator = users["coordinator@example.org"]
    volunteers = {}
    for name, gender, languages, district, status, dbs_days, extra in VOLUNTEERS:
        volunteers[name] = await _volunteer(
            region, name, gender, languages, district, status, dbs_days, extra, users, today, now, coordinator, rng
        )
    for spec in CIRCLES:
        await _circle(spec, region, coordinator, volunteers, users, today, now)
    # Wales: a circle forming around a Welsh-speaking core member, with Cerys invited.
    cerys = await _volunteer(
        regions["Wales"],
        "Cerys Jones",
        "woman",
        ["cy", "en"],
        "CF10",
        "active",
        200,
        {"user": "cerys@example.org", "availability": ["tue-evening"]},
        users,
        today,
        now,
        users["rhys@example.org"],
        rng,
    )
    await _circle(
        {
            "code": "Cylch Derwen",
            "name": "Dafydd Evans",
            "known_as": "",
            "cohort": "survivor",
            "gender": "man",
            "languages": ["cy", "en"],
            "address": "CF24",
            "state": "forming",
            "members": [],
            "invited": ["Cerys Jones"],
            "officer": None,
            "needs": {"accommodation": ["unmet"]},
        },
        regions["Wales"],
        users["rhys@example.org"],
        {"Cerys Jones": cerys},
        users,
        today,
        now,
    )


async def _volunteer(
    region: int,
    name: str,
    gender: str,
    languages: list[str],
    district: str,
    status: str,
    dbs_days: int | None,
    extra: dict[str, Any],
    users: dict[str, int],
    today: date,
    now: datetime,
    coordinator: int,
    rng: random.Random,
) -> int:
    vetted = status in ("trained", "active", "resting") or (status == "left" and dbs_days is not None)
    dbs_on = today - timedelta(days=dbs_days) if dbs_days is not None else None
    steps = {
        "applicant": ["applicant"],
        "in_vetting": ["applicant", "in_vetting"],
        "trained": ["applicant", "in_vetting", "trained"],
        "active": ["applicant", "in_vetting", "trained", "active"],
        "resting": ["applicant", "in_vetting", "trained", "active", "resting"],
        "left": ["applicant", "in_vetting", "left"]
        if not vetted
        else ["applicant", "in_vetting", "trained", "active", "left"],
    }[status]
    applied = today - timedelta(days=(dbs_days or 20) + 60)
    user = extra.get("user")
    rows = await Volunteer.insert(
        Volunteer(
            region=region,
            user=users.get(user) if user else None,
            display_name=name,
            email=name.lower().replace(" ", ".") + "@volunteers.example",
            phone="07700 900" + str(rng.randint(100, 999)),
            status=status,
            status_changed_at=now - timedelta(days=10),
            applied_on=applied,
            left_reason=extra.get("left_reason", ""),
            gender=gender,
            languages=languages,
            home_district=district,
            max_circles=extra.get("max_circles", 2),
            availability=extra.get("availability", ["mon-evening", "thu-afternoon"]),
            declared_connections=extra.get("declared_connections", ""),
            declared_districts=extra.get("declared_districts", []),
            interview_on=applied + timedelta(days=10) if status != "applicant" else None,
            reference_1_received_on=applied + timedelta(days=20) if vetted or status == "in_vetting" else None,
            reference_2_received_on=applied + timedelta(days=25) if vetted else None,
            dbs_certificate_on=dbs_on,
            training_core_on=applied + timedelta(days=40) if vetted else None,
            training_msht_on=applied + timedelta(days=45) if vetted else None,
            training_trauma_on=applied + timedelta(days=50) if vetted else None,
            created_at=now,
        )
    ).returning(Volunteer.id)
    volunteer_id = rows[0]["id"]
    previous = ""
    for i, step in enumerate(steps):
        await VolunteerStatusChange.insert(
            VolunteerStatusChange(
                volunteer=volunteer_id,
                from_status=previous,
                to_status=step,
                changed_at=now - timedelta(days=10 * (len(steps) - i)),
                changed_by=coordinator,
                reason=extra.get("left_reason", "") if step == "left" else "",
            )
        )
        previous = step
    if status == "active" and name not in ("Isaac Mensah", "Faisal Rahman"):  # two are overdue for supervision
        await SupervisionSession.insert(
            SupervisionSession(
                volunteer=volunteer_id,
                coordinator=coordinator,
                held_on=today - timedelta(days=rng.randint(10, 80)),
                notes="Talked about boundaries and self-care; no concerns.",
                created_at=now,
            )
        )
    return volunteer_id


async def _circle(
    spec: dict[str, Any],
    region: int,
    coordinator: int,
    volunteers: dict[str, int],
    users: dict[str, int],
    today: date,
    now: datetime,
) -> None:
    referred = today - timedelta(days=200)
    nrm_days = spec.get("nrm")
    rows = await CoreMember.insert(
        CoreMember(
            region=region,
            full_name=spec["name"],
            known_as=spec["known_as"],
            cohort=spec["cohort"],
            gender=spec["gender"],
            languages=spec["languages"],
            address_district=spec["address"],
            referred_on=referred,
            referred_by=coordinator,
            probation_officer=users.get(spec["officer"]) if spec["officer"] else None,
            release_on=referred + timedelta(days=30),
            licence_ends_on=referred + timedelta(days=600),
            order_conditions=spec.get("order", ""),
            order_ends_on=referred + timedelta(days=1800) if spec.get("order") else None,
            offence_details="Convicted of arranging travel with a view to exploitation (Modern Slavery Act 2015, s.2)."
            if spec["cohort"] != "survivor"
            else "",
            nrm_referred_on=today - timedelta(days=nrm_days) if nrm_days else None,
            nrm_reasonable_grounds="positive" if nrm_days and nrm_days > 200 else "",
            nrm_reasonable_grounds_on=today - timedelta(days=nrm_days - 30) if nrm_days and nrm_days > 200 else None,
            created_at=now,
            updated_at=now,
        )
    ).returning(CoreMember.id)
    core_member = rows[0]["id"]
    for kind, description, districts, cuckooing in spec.get("risk", []):
        await RiskConnection.insert(
            RiskConnection(
                core_member=core_member,
                kind=kind,
                description=description,
                districts=districts,
                cuckooing=cuckooing,
                created_at=now,
                created_by=coordinator,
            )
        )
    for area, statuses in spec["needs"].items():
        for i, status in enumerate(statuses):
            await NeedChange.insert(
                NeedChange(
                    core_member=core_member,
                    area=area,
                    status=status,
                    changed_on=referred + timedelta(days=20 + 50 * i),
                    changed_at=now,
                    changed_by=coordinator,
                )
            )
    await CaseNote.insert(
        CaseNote(
            core_member=core_member,
            body="Prefers to meet in the afternoon when possible; enjoys football.",
            shared_with_circle=True,
            created_at=now,
            created_by=coordinator,
        )
    )
    path = ["referred", "accepted", "forming", "active", "tapering", "ending", "closed"]
    state = spec["state"]
    walk = path[: path.index(spec.get("before_pause", state)) + 1] + (["paused"] if state == "paused" else [])
    signed = state in ("active", "tapering", "ending", "closed", "paused")
    rows = await Circle.insert(
        Circle(
            code_name=spec["code"],
            core_member=core_member,
            region=region,
            coordinator=coordinator,
            state=state,
            state_before_pause=spec.get("before_pause", ""),
            state_changed_at=now - timedelta(days=5),
            meeting_weekday=0 if spec["code"] != "Cylch Derwen" else 1,
            meeting_time=time(18, 30),
            venue="Community centre, meeting room 2",
            venue_district="NG1" if region == 1 else "CF10",
            check_in_every_days=7,
            covenant_text=COVENANT if signed else "",
            covenant_version=1 if signed else 0,
            covenant_signed_on=referred + timedelta(days=60) if signed else None,
            created_at=now - timedelta(days=190),
        )
    ).returning(Circle.id)
    circle = rows[0]["id"]
    previous = ""
    for i, step in enumerate(walk):
        await CircleTransition.insert(
            CircleTransition(
                circle=circle,
                from_state=previous,
                to_state=step,
                at=now - timedelta(days=190 - 25 * i),
                by=coordinator,
                reason=spec.get("pause_reason", "") if step == "paused" else "",
            )
        )
        previous = step
    for name in spec["members"]:
        await CircleMembership.insert(
            CircleMembership(
                circle=circle,
                volunteer=volunteers[name],
                status="accepted",
                invited_at=now - timedelta(days=150),
                invited_by=coordinator,
                responded_at=now - timedelta(days=148),
            )
        )
    for name in spec.get("invited", []):
        await CircleMembership.insert(
            CircleMembership(
                circle=circle,
                volunteer=volunteers[name],
                status="invited",
                invited_at=now - timedelta(days=2),
                invited_by=coordinator,
            )
        )
    if state != "referred":
        await OuterCircleMember.insert(
            OuterCircleMember(
                circle=circle,
                name="Jo Bradley",
                organisation="Nottingham City Homes",
                role="Housing officer",
                email="jo.bradley@housing.example",
            )
        )
