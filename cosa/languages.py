"""Languages people speak (for core members and volunteers), as ISO 639-1 codes named by Babel.

The list covers the languages most often spoken by people referred into the NRM and by volunteers in
England and Wales; names are shown in the reader's own language.
"""

from __future__ import annotations

from babel import Locale

from cosa import i18n

LANGUAGE_CODES = (
    "en",
    "cy",
    "sq",
    "vi",
    "ro",
    "pl",
    "ar",
    "ti",
    "ku",
    "ur",
    "pa",
    "bn",
    "lt",
    "sk",
    "cs",
    "bg",
    "hu",
    "zh",
    "am",
    "fa",
    "ps",
    "so",
    "pt",
    "es",
    "fr",
    "it",
    "tr",
    "uk",
    "ru",
    "ms",
    "tl",
    "hi",
    "gu",
    "ta",
    "yo",
    "ig",
)


def language_name(code: str) -> str:
    names = Locale.parse(i18n.get_locale()).languages
    return names.get(code, code)


def language_choices() -> dict[str, str]:
    """Codes to names in the reader's language, sorted by name."""
    return dict(sorted(((code, language_name(code)) for code in LANGUAGE_CODES), key=lambda item: item[1]))
