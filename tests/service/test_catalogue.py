"""The service catalogue: both languages hold the same keys, and every key a template uses."""

from __future__ import annotations

import re
from importlib import resources

from babel.messages.pofile import read_po

LOCALE = resources.files("spinestab.service").joinpath("locale")
TEMPLATES = resources.files("spinestab.service").joinpath("templates")


def _keys(language):
    with LOCALE.joinpath(f"{language}/LC_MESSAGES/service.po").open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id}


def _template_files(folder):
    for entry in folder.iterdir():
        if entry.is_dir():
            yield from _template_files(entry)
        elif entry.name.endswith(".html"):
            yield entry


def test_english_and_german_have_the_same_keys_all_translated():
    en, de = _keys("en"), _keys("de")
    assert set(en) == set(de)
    assert all(en.values()) and all(de.values())


def test_every_literal_key_in_the_templates_exists():
    known = set(_keys("en"))
    used = set()
    for path in _template_files(TEMPLATES):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']""", path.read_text()))
    used = {key for key in used if not key.endswith(".")}  # prefixes joined with ~
    assert used, "no keys found"
    assert used <= known, sorted(used - known)
