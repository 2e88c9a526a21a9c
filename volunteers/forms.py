"""Reading and checking the volunteer forms, and the labels the pages show for codes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request

from cosa import i18n
from cosa.choices import WEEKDAY_KEYS, gender_choices, part_of_day_choices, slot_choices, weekday_choices
from cosa.forms import (
    FormResult,
    check_choice,
    check_date,
    check_email,
    check_int,
    check_multi,
    check_text,
    read_form,
    read_multi,
)
from cosa.languages import language_choices
from volunteers.rules import Vetting, normalise_district, parse_districts
from volunteers.tables import VolunteerStatus

PHONE_PATTERN = re.compile(r"^\+?[0-9 ()-]{6,30}$")
MAX_DISTRICTS = 40
CONNECTIONS_MAX_LENGTH = 4000
NOTES_MAX_LENGTH = 10_000
VETTING_FIELDS = (
    "interview_on",
    "reference_1_received_on",
    "reference_2_received_on",
    "dbs_certificate_on",
    "training_core_on",
    "training_msht_on",
    "training_trauma_on",
)


# --- labels for codes ----------------------------------------------------------------------------------


def status_labels() -> dict[str, str]:
    return {
        VolunteerStatus.applicant: i18n.gettext("Applicant"),
        VolunteerStatus.in_vetting: i18n.gettext("In vetting"),
        VolunteerStatus.trained: i18n.gettext("Trained"),
        VolunteerStatus.active: i18n.gettext("Active"),
        VolunteerStatus.resting: i18n.gettext("Resting"),
        VolunteerStatus.left: i18n.gettext("Left"),
    }


# Tag colours only reinforce the words (app.css has no colour per volunteer status).
STATUS_TAGS = {
    VolunteerStatus.applicant: "info",
    VolunteerStatus.in_vetting: "info",
    VolunteerStatus.trained: "ok",
    VolunteerStatus.active: "active",
    VolunteerStatus.resting: "deactivated",
    VolunteerStatus.left: "deactivated",
}


def left_reason_choices() -> dict[str, str]:
    """Why a volunteer left: stored as a code, so the pipeline can be counted without free text."""
    return {
        "moved_away": i18n.gettext("Moved away"),
        "no_longer_available": i18n.gettext("No longer has the time"),
        "stepped_down": i18n.gettext("Chose to step down"),
        "application_not_taken_forward": i18n.gettext("Application not taken forward"),
        "other": i18n.gettext("Another reason"),
    }


def vetting_labels() -> dict[str, str]:
    return {
        "interview_on": i18n.gettext("Interview"),
        "reference_1_received_on": i18n.gettext("First reference received"),
        "reference_2_received_on": i18n.gettext("Second reference received"),
        "dbs_certificate_on": i18n.gettext("Enhanced DBS certificate issued"),
        "training_core_on": i18n.gettext("CoSA core training completed"),
        "training_msht_on": i18n.gettext("Modern slavery and human trafficking awareness training completed"),
        "training_trauma_on": i18n.gettext("Trauma-informed practice training completed"),
    }


def missing_sentences(codes: list[str]) -> list[str]:
    """missing_for_active() codes as things a coordinator can do next."""
    sentences = {
        "interview": i18n.gettext("Hold their interview and record the date."),
        "references": i18n.gettext("Receive both references and record the dates."),
        "dbs": i18n.gettext("Record the date of their enhanced DBS certificate."),
        "dbs_expired": i18n.gettext("Their DBS certificate has expired: they need a new enhanced DBS check."),
        "training_core": i18n.gettext("They need to complete the CoSA core training."),
        "training_msht": i18n.gettext(
            "They need to complete the modern slavery and human trafficking awareness training."
        ),
        "training_trauma": i18n.gettext("They need to complete the trauma-informed practice training."),
    }
    return [sentences.get(code, code) for code in codes]


def availability_grid() -> list[dict[str, Any]]:
    """The availability slots by weekday, for a day-by-day layout of morning, afternoon and evening."""
    days = weekday_choices()
    parts = part_of_day_choices()
    slots = slot_choices()
    return [
        {
            "key": key,
            "label": days[str(i)],
            "slots": [
                {"value": f"{key}-{part}", "label": label, "full": slots[f"{key}-{part}"]}
                for part, label in parts.items()
            ],
        }
        for i, key in enumerate(WEEKDAY_KEYS)
    ]


# --- the profile: the application form and its edit ----------------------------------------------------


@dataclass(frozen=True)
class Profile:
    display_name: str
    email: str
    phone: str
    applied_on: date
    gender: str
    languages: list[str]
    home_district: str
    availability: list[str]
    max_circles: int
    declared_connections: str
    declared_districts: list[str]


async def read_profile_form(request: Request[Any, Any, Any]) -> tuple[FormResult, dict[str, list[str]]]:
    """The submitted profile: single fields in a FormResult, checkbox groups as lists."""
    result = FormResult(await read_form(request))
    chosen = {
        "languages": await read_multi(request, "languages"),
        "availability": await read_multi(request, "availability"),
    }
    return result, chosen


def check_profile(result: FormResult, chosen: dict[str, list[str]], today: date) -> Profile | None:
    name = check_text(result, "display_name", required_message=i18n.gettext("Enter their name."))
    email = check_email(result)
    phone = " ".join(result.values.get("phone", "").split())
    if phone and not PHONE_PATTERN.match(phone):
        result.error("phone", i18n.gettext("Enter a phone number using digits, like 07700 900982 or +44 7700 900982."))
    applied_on = check_date(
        result,
        "applied_on",
        required_message=i18n.gettext("Enter the date they applied."),
        not_after=today,
    )
    gender = check_choice(
        result, "gender", gender_choices(), i18n.gettext("Choose their gender, or ‘Prefers not to say’.")
    )
    languages = check_multi(result, "languages", chosen.get("languages", []), language_choices())
    if not languages and "languages" not in result.errors:
        result.error("languages", i18n.gettext("Choose at least one language they speak."))
    district = _check_home_district(result)
    availability = check_multi(result, "availability", chosen.get("availability", []), slot_choices())
    max_circles = check_int(result, "max_circles", minimum=1, maximum=6, default=2)
    connections = result.values.get("declared_connections", "").strip()
    if len(connections) > CONNECTIONS_MAX_LENGTH:
        result.error(
            "declared_connections",
            i18n.gettext("This must be %(max)s characters or fewer.", max=CONNECTIONS_MAX_LENGTH),
        )
    districts = _check_declared_districts(result)
    if not result.ok or applied_on is None or max_circles is None:
        return None
    return Profile(
        display_name=name,
        email=email,
        phone=phone,
        applied_on=applied_on,
        gender=gender,
        languages=languages,
        home_district=district,
        availability=availability,
        max_circles=max_circles,
        declared_connections=connections,
        declared_districts=districts,
    )


def _check_home_district(result: FormResult) -> str:
    raw = result.values.get("home_district", "").strip()
    if not raw:
        result.error("home_district", i18n.gettext("Enter the first part of their postcode, like NG7 or CF10."))
        return ""
    district = normalise_district(raw)
    if district is None:
        result.error(
            "home_district",
            i18n.gettext(
                "Enter the first part of a UK postcode, like NG7 or CF10. A full postcode is fine: "
                "only the first part is kept."
            ),
        )
        return ""
    return district


def _check_declared_districts(result: FormResult) -> list[str]:
    good, bad = parse_districts(result.values.get("declared_districts", ""))
    if bad:
        result.error(
            "declared_districts",
            i18n.gettext(
                "These are not postcode districts: %(bad)s. Enter districts like NG7 or CF10, separated by commas.",
                bad=", ".join(bad[:10]),
            ),
        )
    elif len(good) > MAX_DISTRICTS:
        result.error("declared_districts", i18n.gettext("Enter %(max)s districts or fewer.", max=MAX_DISTRICTS))
    return good


def profile_values(volunteer: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """A stored volunteer as the edit form's values."""
    values = {
        "display_name": volunteer["display_name"],
        "email": volunteer["email"],
        "phone": volunteer["phone"],
        "applied_on": volunteer["applied_on"].isoformat() if volunteer["applied_on"] else "",
        "gender": volunteer["gender"],
        "home_district": volunteer["home_district"],
        "max_circles": str(volunteer["max_circles"]),
        "declared_connections": volunteer["declared_connections"],
        "declared_districts": ", ".join(volunteer["declared_districts"] or []),
    }
    chosen = {"languages": list(volunteer["languages"] or []), "availability": list(volunteer["availability"] or [])}
    return values, chosen


# --- vetting and training ------------------------------------------------------------------------------


def check_vetting(result: FormResult, today: date) -> Vetting | None:
    dates = {name: check_date(result, name, not_after=today) for name in VETTING_FIELDS}
    if not result.ok:
        return None
    return Vetting(**dates)


def vetting_values(volunteer: dict[str, Any]) -> dict[str, str]:
    return {name: volunteer[name].isoformat() if volunteer[name] else "" for name in VETTING_FIELDS}


# --- status, supervision, account ----------------------------------------------------------------------


@dataclass(frozen=True)
class StatusChoice:
    to_status: str
    reason: str


def check_status(result: FormResult, allowed: tuple[str, ...], current: str) -> StatusChoice | None:
    """The chosen next status. One that does not follow the current one gets a message saying what can."""
    labels = status_labels()
    to_status = result.values.get("to_status", "")
    if to_status not in labels:
        result.error("to_status", i18n.gettext("Choose their new status."))
        return None
    if to_status not in allowed:
        if allowed:
            message = i18n.gettext(
                "Someone who is ‘%(current)s’ cannot become ‘%(target)s’ next. They can become: %(options)s.",
                current=labels[current],
                target=labels[to_status],
                options=", ".join(f"‘{labels[s]}’" for s in allowed),
            )
        else:
            message = i18n.gettext("Someone who has left cannot change status. Add them as a new applicant instead.")
        result.error("to_status", message)
        return None
    reason = ""
    if to_status == VolunteerStatus.left:
        reason = check_choice(
            result, "left_reason", left_reason_choices(), i18n.gettext("Choose why they are leaving.")
        )
    if not result.ok:
        return None
    return StatusChoice(to_status=to_status, reason=reason)


@dataclass(frozen=True)
class Supervision:
    held_on: date
    notes: str


def check_supervision(result: FormResult, today: date) -> Supervision | None:
    held_on = check_date(
        result, "held_on", required_message=i18n.gettext("Enter the date of the session."), not_after=today
    )
    notes = result.values.get("notes", "").strip()
    if len(notes) > NOTES_MAX_LENGTH:
        result.error("notes", i18n.gettext("This must be %(max)s characters or fewer.", max=NOTES_MAX_LENGTH))
    if not result.ok or held_on is None:
        return None
    return Supervision(held_on=held_on, notes=notes)


def check_account_locale(result: FormResult) -> str:
    return check_choice(result, "locale", i18n.LANGUAGE_NAMES, i18n.gettext("Choose the language for their emails."))
