"""The catalogs stay in step with the code: extraction matches the committed .pot, Welsh is complete."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
LOCALE = ROOT / "cosa" / "locale"


def msgids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {str(m.id if isinstance(m.id, str) else m.id[0]) for m in read_po(handle) if m.id}


def test_the_pot_file_matches_the_strings_in_the_code_and_templates(tmp_path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            "--mapping=babel.cfg",
            "--keywords=lazy_gettext",
            "--omit-header",
            "--no-location",
            "--sort-output",
            f"--output={fresh}",
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    committed = msgids(LOCALE / "messages.pot")
    extracted = msgids(fresh)
    assert extracted - committed == set(), "strings missing from messages.pot: run `make messages`"
    assert committed - extracted == set(), "stale strings in messages.pot: run `make messages`"


def test_every_string_has_a_welsh_translation():
    with (LOCALE / "cy" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    template = msgids(LOCALE / "messages.pot")
    missing = []
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            missing.append(message.id)
    assert missing == []
    assert msgids(LOCALE / "cy" / "LC_MESSAGES" / "messages.po") >= template


def test_welsh_translations_keep_their_placeholders():
    import re

    with (LOCALE / "cy" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    placeholder = re.compile(r"%\((\w+)\)s")
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set().union(*(placeholder.findall(i) for i in ids))
        for text in strings:
            assert set(placeholder.findall(text)) <= expected, (message.id, text)
