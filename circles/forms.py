"""Checking what coordinators type about core members and circles. Messages are ones a person can act on."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from cosa import i18n
from cosa.choices import gender_choices, weekday_choices
from cosa.forms import FormResult, check_choice, check_date, check_int, check_multi, check_text
from cosa.languages import LANGUAGE_CODES
from volunteers.rules import normalise_district, parse_districts


def cohort_choices() -> dict[str, str]:
    return {
        "survivor": i18n.gettext("Survivor of modern slavery or trafficking"),
        "convicted": i18n.gettext("Convicted of a modern slavery or trafficking offence"),
        "both": i18n.gettext("Both"),
    }


def decision_choices() -> dict[str, str]:
    return {
        "": i18n.gettext("No decision yet"),
        "positive": i18n.gettext("Positive"),
        "negative": i18n.gettext("Negative"),
    }


def preference_choices() -> dict[str, str]:
    return {"": i18n.gettext("No preference"), **{k: v for k, v in gender_choices().items() if k in ("woman", "man")}}


def check_district(result: FormResult, name: str) -> str:
    raw = result.values.get(name, "").strip()
    if not raw:
        return ""
    district = normalise_district(raw)
    if district is None:
        result.error(name, i18n.gettext("Enter a postcode district like NG7 or CF10, or a full postcode."))
        return ""
    return district


def check_districts(result: FormResult, name: str) -> list[str]:
    good, bad = parse_districts(result.values.get(name, ""))
    if bad:
        result.error(
            name,
            i18n.gettext(
                "These are not postcode districts: %(bad)s. Use districts like NG7 or CF10.", bad=", ".join(bad)
            ),
        )
    return good


def core_member_fields(
    result: FormResult, languages: list[str], probation_officers: dict[str, str], today: date
) -> dict[str, Any]:
    """The core member's columns from the referral or edit form (the probation officer as a public id)."""
    fields: dict[str, Any] = {
        "full_name": check_text(
            result, "full_name", required_message=i18n.gettext("Enter the core member's full name.")
        ),
        "known_as": " ".join(result.values.get("known_as", "").split())[:60],
        "cohort": check_choice(
            result, "cohort", cohort_choices(), i18n.gettext("Choose which group the core member is in.")
        ),
        "gender": result.values.get("gender", "") if result.values.get("gender", "") in gender_choices() else "",
        "pronouns": " ".join(result.values.get("pronouns", "").split())[:30],
        "volunteer_gender_preference": check_choice(
            result, "volunteer_gender_preference", preference_choices(), i18n.gettext("Choose a preference.")
        ),
        "languages": check_multi(result, "languages", languages, LANGUAGE_CODES),
        "release_on": check_date(result, "release_on"),
        "licence_ends_on": check_date(result, "licence_ends_on"),
        "order_conditions": result.values.get("order_conditions", "").strip(),
        "order_ends_on": check_date(result, "order_ends_on"),
        "offence_details": result.values.get("offence_details", "").strip(),
        "address_district": check_district(result, "address_district"),
        "referred_on": check_date(
            result, "referred_on", required_message=i18n.gettext("Enter the date of the referral."), not_after=today
        ),
    }
    officer = result.values.get("probation_officer", "")
    if officer and officer not in probation_officers:
        result.error("probation_officer", i18n.gettext("Choose a probation officer from the list."))
    fields["probation_officer"] = officer
    release, licence = fields["release_on"], fields["licence_ends_on"]
    if release and licence and licence < release:
        result.error("licence_ends_on", i18n.gettext("The licence cannot end before the release date."))
    return fields


def nrm_fields(result: FormResult, today: date) -> dict[str, Any]:
    decisions = decision_choices()
    fields: dict[str, Any] = {
        "nrm_referred_on": check_date(result, "nrm_referred_on", not_after=today),
        "nrm_reasonable_grounds": check_choice(
            result, "nrm_reasonable_grounds", decisions, i18n.gettext("Choose a decision.")
        ),
        "nrm_reasonable_grounds_on": check_date(result, "nrm_reasonable_grounds_on", not_after=today),
        "nrm_conclusive_grounds": check_choice(
            result, "nrm_conclusive_grounds", decisions, i18n.gettext("Choose a decision.")
        ),
        "nrm_conclusive_grounds_on": check_date(result, "nrm_conclusive_grounds_on", not_after=today),
        "public_order_disqualification": result.values.get("public_order_disqualification") == "yes",
    }
    for decision, on in (
        ("nrm_reasonable_grounds", "nrm_reasonable_grounds_on"),
        ("nrm_conclusive_grounds", "nrm_conclusive_grounds_on"),
    ):
        if fields[decision] and not fields[on] and on not in result.errors:
            result.error(on, i18n.gettext("Enter the date of the decision."))
        if fields[on] and not fields[decision]:
            result.error(decision, i18n.gettext("Choose the decision made on that date."))
    if (fields["nrm_reasonable_grounds"] or fields["nrm_conclusive_grounds"]) and not fields["nrm_referred_on"]:
        result.error("nrm_referred_on", i18n.gettext("Enter the date of the NRM referral."))
    if fields["nrm_conclusive_grounds"] and fields["nrm_reasonable_grounds"] != "positive":
        result.error(
            "nrm_conclusive_grounds",
            i18n.gettext("A conclusive grounds decision follows a positive reasonable grounds decision."),
        )
    referred = fields["nrm_referred_on"]
    for on in ("nrm_reasonable_grounds_on", "nrm_conclusive_grounds_on"):
        if referred and fields[on] and fields[on] < referred:
            result.error(on, i18n.gettext("A decision cannot come before the referral."))
    return fields


def circle_fields(result: FormResult) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "code_name": check_text(
            result, "code_name", required_message=i18n.gettext("Enter a code name for the circle."), max_length=40
        ),
        "venue": " ".join(result.values.get("venue", "").split())[:120],
        "venue_district": check_district(result, "venue_district"),
        "check_in_every_days": check_int(result, "check_in_every_days", minimum=1, maximum=60, default=7),
        "meeting_weekday": None,
        "meeting_time": None,
    }
    weekday = result.values.get("meeting_weekday", "")
    if weekday:
        if weekday in weekday_choices():
            fields["meeting_weekday"] = int(weekday)
        else:
            result.error("meeting_weekday", i18n.gettext("Choose a day of the week."))
    raw_time = result.values.get("meeting_time", "").strip()
    if raw_time:
        try:
            fields["meeting_time"] = time.fromisoformat(raw_time)
        except ValueError:
            result.error("meeting_time", i18n.gettext("Enter a time like 18:30."))
    if (fields["meeting_weekday"] is None) != (fields["meeting_time"] is None) and "meeting_time" not in result.errors:
        result.error("meeting_time", i18n.gettext("Give both the day and the time of the usual meeting, or neither."))
    return fields
