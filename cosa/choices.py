"""Choice lists shared by core members, volunteers and circles, labelled in the reader's language."""

from __future__ import annotations

from cosa import i18n


def gender_choices() -> dict[str, str]:
    return {
        "woman": i18n.gettext("Woman"),
        "man": i18n.gettext("Man"),
        "non_binary": i18n.gettext("Non-binary"),
        "other": i18n.gettext("Another gender"),
        "not_said": i18n.gettext("Prefers not to say"),
    }


def weekday_choices() -> dict[str, str]:
    """Weekday numbers as strings ("0" Monday .. "6" Sunday) to names."""
    names = [
        i18n.gettext("Monday"),
        i18n.gettext("Tuesday"),
        i18n.gettext("Wednesday"),
        i18n.gettext("Thursday"),
        i18n.gettext("Friday"),
        i18n.gettext("Saturday"),
        i18n.gettext("Sunday"),
    ]
    return {str(i): name for i, name in enumerate(names)}


def part_of_day_choices() -> dict[str, str]:
    return {
        "morning": i18n.gettext("Morning"),
        "afternoon": i18n.gettext("Afternoon"),
        "evening": i18n.gettext("Evening"),
    }


WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def slot_choices() -> dict[str, str]:
    """Availability slots such as "mon-evening", labelled "Monday evening"."""
    days = weekday_choices()
    parts = part_of_day_choices()
    return {
        f"{key}-{part}": i18n.gettext("%(day)s %(part)s", day=days[str(i)], part=label.lower())
        for i, key in enumerate(WEEKDAY_KEYS)
        for part, label in parts.items()
    }


def slot_for(weekday: int | None, hour: int | None) -> str | None:
    """The availability slot a meeting at this weekday and hour falls in."""
    if weekday is None or hour is None:
        return None
    part = "morning" if hour < 12 else "afternoon" if hour < 17 else "evening"
    return f"{WEEKDAY_KEYS[weekday]}-{part}"
