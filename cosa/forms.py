"""Reading and checking form input. Errors are messages a user can act on, keyed by field name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from litestar import Request

from cosa import i18n

MAX_FIELD_LENGTH = 20_000
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class FormResult:
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)


async def read_form(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The submitted fields as text (files ignored, each value capped, control characters removed)."""
    form = await request.form()
    values: dict[str, str] = {}
    for key in form:
        value = form.get(key)
        if isinstance(value, str) and key != "_csrf_token":
            values[key[:100]] = CONTROL_CHARACTERS.sub("", value[:MAX_FIELD_LENGTH])
    return values


def clean_email(value: str) -> str:
    return value.strip().lower()


def check_email(result: FormResult, name: str = "email") -> str:
    email = clean_email(result.values.get(name, ""))
    if not email:
        result.error(name, i18n.gettext("Enter an email address."))
    elif len(email) > 254 or not EMAIL_PATTERN.match(email):
        result.error(name, i18n.gettext("Enter an email address in the right format, like name@example.org."))
    return email


def check_text(result: FormResult, name: str, *, required_message: str, max_length: int = 120) -> str:
    text = " ".join(result.values.get(name, "").split())
    if not text:
        result.error(name, required_message)
    elif len(text) > max_length:
        result.error(name, i18n.gettext("This must be %(max)s characters or fewer.", max=max_length))
    return text


def check_choice(result: FormResult, name: str, choices: dict[str, str], message: str) -> str:
    value = result.values.get(name, "")
    if value not in choices:
        result.error(name, message)
    return value


def safe_next(target: str | None, default: str = "/") -> str:
    """A redirect target only if it is a path on this site (no scheme, host or protocol-relative URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    if any(ord(ch) < 32 for ch in target):
        return default
    return target


def check_date(
    result: FormResult,
    name: str,
    *,
    required_message: str | None = None,
    not_after: date | None = None,
    not_before: date | None = None,
) -> date | None:
    """A date from an <input type="date"> (YYYY-MM-DD); optional unless `required_message` is given."""
    raw = result.values.get(name, "").strip()
    if not raw:
        if required_message:
            result.error(name, required_message)
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        result.error(name, i18n.gettext("Enter a real date, for example 27 3 2026."))
        return None
    if not_after is not None and value > not_after:
        result.error(name, i18n.gettext("The date must be today or in the past."))
    elif not_before is not None and value < not_before:
        result.error(name, i18n.gettext("The date must be today or in the future."))
    return value


def check_int(result: FormResult, name: str, *, minimum: int, maximum: int, default: int | None = None) -> int | None:
    raw = result.values.get(name, "").strip()
    if not raw and default is not None:
        return default
    try:
        value = int(raw)
    except ValueError:
        result.error(name, i18n.gettext("Enter a whole number."))
        return None
    if not minimum <= value <= maximum:
        result.error(name, i18n.gettext("Enter a number from %(min)s to %(max)s.", min=minimum, max=maximum))
        return None
    return value


async def read_multi(request: Request[Any, Any, Any], name: str) -> list[str]:
    """Every value of a repeated field (checkboxes), in the order sent."""
    form = await request.form()
    return [v for v in form.getall(name) if isinstance(v, str)] if name in form else []


def check_multi(result: FormResult, name: str, chosen: list[str], choices: Any) -> list[str]:
    """Keep the chosen values that are real choices; any other value is an error (a tampered form)."""
    allowed = set(choices)
    values = [v for v in dict.fromkeys(chosen) if v in allowed]
    if len(values) != len(set(chosen)):
        result.error(name, i18n.gettext("Choose from the options shown."))
    return values
