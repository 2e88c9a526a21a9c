"""Plain rules about volunteers, shared by the pipeline pages and matching. No database, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from cosa.choices import WEEKDAY_KEYS
from volunteers.tables import VolunteerStatus

DISTRICT_PATTERN = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]?$")
PARTS_OF_DAY = ("morning", "afternoon", "evening")
SLOTS = tuple(f"{day}-{part}" for day in WEEKDAY_KEYS for part in PARTS_OF_DAY)

# Which status may follow which. Taking someone on ("active") is further checked by missing_for_active().
TRANSITIONS: dict[str, tuple[str, ...]] = {
    VolunteerStatus.applicant: (VolunteerStatus.in_vetting, VolunteerStatus.left),
    VolunteerStatus.in_vetting: (VolunteerStatus.trained, VolunteerStatus.left),
    VolunteerStatus.trained: (VolunteerStatus.active, VolunteerStatus.left),
    VolunteerStatus.active: (VolunteerStatus.resting, VolunteerStatus.left),
    VolunteerStatus.resting: (VolunteerStatus.active, VolunteerStatus.left),
    VolunteerStatus.left: (),
}


def normalise_district(value: str) -> str | None:
    """'ng7 ' -> 'NG7'; a full postcode is cut to its district; None when it is not a district."""
    text = "".join(value.split()).upper()
    if len(text) >= 5 and re.match(r"^[A-Z]{1,2}[0-9][0-9A-Z]?[0-9][A-Z]{2}$", text):
        text = text[:-3]  # a full postcode: drop the inward code
    return text if DISTRICT_PATTERN.match(text) else None


def parse_districts(value: str) -> tuple[list[str], list[str]]:
    """Districts from a comma- or space-separated list: (the valid ones, deduplicated; the rejected ones)."""
    good: list[str] = []
    bad: list[str] = []
    for part in re.split(r"[,;\s]+", value.strip()):
        if not part:
            continue
        district = normalise_district(part)
        if district is None:
            bad.append(part)
        elif district not in good:
            good.append(district)
    return good, bad


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def dbs_expires_on(certificate_on: date | None, renewal_years: int) -> date | None:
    return add_years(certificate_on, renewal_years) if certificate_on else None


@dataclass(frozen=True)
class Vetting:
    interview_on: date | None
    reference_1_received_on: date | None
    reference_2_received_on: date | None
    dbs_certificate_on: date | None
    training_core_on: date | None
    training_msht_on: date | None
    training_trauma_on: date | None


def missing_for_active(vetting: Vetting, today: date, renewal_years: int) -> list[str]:
    """Codes of what stops a volunteer from becoming active; empty when nothing does."""
    missing = []
    if vetting.interview_on is None:
        missing.append("interview")
    if vetting.reference_1_received_on is None or vetting.reference_2_received_on is None:
        missing.append("references")
    expires = dbs_expires_on(vetting.dbs_certificate_on, renewal_years)
    if expires is None:
        missing.append("dbs")
    elif expires <= today:
        missing.append("dbs_expired")
    if vetting.training_core_on is None:
        missing.append("training_core")
    if vetting.training_msht_on is None:
        missing.append("training_msht")
    if vetting.training_trauma_on is None:
        missing.append("training_trauma")
    return missing
