"""Reading and checking form input. Errors are messages a user can act on, keyed by field name."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
