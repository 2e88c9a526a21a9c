"""Languages: locale negotiation, gettext for code and templates, dates in Europe/London."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.core import UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.support import NullTranslations, Translations

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = "en_GB"
SUPPORTED_LOCALES = ("en_GB", "cy")
# The name of each language in itself, for the switcher (not translated, by design).
LANGUAGE_NAMES = {"en_GB": "English", "cy": "Cymraeg"}
LONDON = ZoneInfo("Europe/London")

_current_locale: ContextVar[str] = ContextVar("cosa_locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> NullTranslations:
    return Translations.load(str(LOCALE_DIR), [locale], domain="messages")


def set_locale(locale: str) -> None:
    _current_locale.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)


def get_locale() -> str:
    return _current_locale.get()


@contextmanager
def in_locale(locale: str | None) -> Iterator[None]:
    """Words in someone else's language for a while (an email to its recipient, a calendar feed)."""
    token = _current_locale.set(locale if locale in SUPPORTED_LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current_locale.reset(token)


def html_lang(locale: str | None = None) -> str:
    """The BCP 47 tag for `<html lang>`: en-GB, not en_GB."""
    return (locale or get_locale()).replace("_", "-")


def gettext(message: str, **variables: object) -> str:
    text = translations(get_locale()).ugettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: object) -> str:
    text = translations(get_locale()).ungettext(singular, plural, n)
    variables.setdefault("num", n)
    return text % variables


def lazy_gettext(message: str) -> str:
    """Marks a string for extraction where it is defined; translate it with gettext() where it is shown."""
    return message


_ = gettext


def normalise_locale(value: str | None) -> str | None:
    """Our locale for a tag such as 'cy', 'cy-GB', 'en_US' or 'en-GB', or None if we have no such language."""
    if not value:
        return None
    try:
        parsed = Locale.parse(value.strip().replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    if parsed.language == "cy":
        return "cy"
    if parsed.language == "en":
        return "en_GB"
    return None


def negotiate(saved: str | None, accept_language: str | None) -> str:
    """The user's saved choice, then the browser's Accept-Language in order of preference, then en-GB."""
    chosen = normalise_locale(saved)
    if chosen:
        return chosen
    for tag in _accept_language_tags(accept_language or ""):
        chosen = normalise_locale(tag)
        if chosen:
            return chosen
    return DEFAULT_LOCALE


def _accept_language_tags(header: str) -> list[str]:
    weighted = []
    for position, part in enumerate(header.split(",")[:20]):
        pieces = part.strip().split(";")
        tag = pieces[0].strip()
        if not tag or tag == "*" or len(tag) > 35:
            continue
        quality = 1.0
        for parameter in pieces[1:]:
            name, _sep, raw = parameter.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(raw)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _q, _p, tag in sorted(weighted)]


def format_datetime(value: datetime | None, format: str = "d MMMM y, HH:mm") -> str:
    if value is None:
        return ""
    return babel_format_datetime(value, format, tzinfo=LONDON, locale=get_locale())


def format_date(value: date | datetime | None, format: str = "d MMMM y") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(LONDON).date()
    return babel_format_date(value, format, locale=get_locale())
