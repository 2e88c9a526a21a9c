"""The source strings are British English, so the en_GB catalog translates each string to itself.

Run by `make messages` after the catalogs are updated, so the English catalog is always complete.
"""

from pathlib import Path

from babel.messages.pofile import read_po, write_po

PATH = Path(__file__).resolve().parent.parent / "cosa" / "locale" / "en_GB" / "LC_MESSAGES" / "messages.po"

with PATH.open("rb") as handle:
    catalog = read_po(handle, locale="en_GB")
for message in catalog:
    if message.id:
        message.string = message.id
        message.flags.discard("fuzzy")
with PATH.open("wb") as handle:
    write_po(handle, catalog, omit_header=False, no_location=True, sort_output=True, include_previous=False)
