"""Translations: every message has Finnish and Swedish, and formats follow the locale."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from luotsi.platform import i18n

ROOT = Path(__file__).resolve().parents[2]


def source_messages() -> set[str]:
    """Every message in the code and templates, extracted as ``make messages`` does."""
    method_map = [
        ("**/templates/**.html", "jinja2"),
        ("**/mail_templates/**.html", "jinja2"),
        ("**/mail_templates/**.txt", "jinja2"),
        ("**.py", "python"),
    ]
    options = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT / "luotsi",
        method_map,
        options_map=options,
        keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _filled(string: str | tuple[str, ...]) -> bool:
    """A translation, every plural form of it included (an empty form is missing)."""
    return all(string) if isinstance(string, tuple) else bool(string)


@pytest.mark.parametrize("language", ["fi", "sv"])
def test_every_message_is_translated(language: str) -> None:
    with (ROOT / "luotsi" / "locale" / language / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=language)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]
        for m in catalog
        if m.id and not m.fuzzy and _filled(m.string)
    }
    missing = sorted(source_messages() - translated)
    assert missing == [], (
        f"{len(missing)} untranslated in {language}; run `make messages` and translate"
    )


def test_extraction_finds_messages() -> None:
    messages = source_messages()
    assert "Sign in" in messages and "You have signed out." in messages


def test_finnish_dates_and_money() -> None:
    with i18n.language("fi"):
        assert i18n.format_date(date(2026, 6, 19)) == "19.6.2026"
        assert i18n.format_money(123450).replace("\xa0", " ") == "1 234,50 €"


def test_swedish_dates_as_written_in_finland_and_english_ones_unambiguous() -> None:
    moment = datetime(2026, 12, 4, 7, 5, tzinfo=UTC)  # 9.05 in Helsinki
    with i18n.language("sv"):
        assert i18n.format_date(date(2026, 12, 4)) == "4.12.2026"
        assert i18n.format_datetime(moment) == "4.12.2026 09:05"
    with i18n.language("en"):
        assert i18n.format_date(date(2026, 12, 4)) == "4 Dec 2026"
        assert i18n.format_datetime(moment).startswith("4 Dec 2026 9")
    with i18n.language("fi"):
        assert i18n.format_datetime(moment) == "4.12.2026 9.05"


def test_datetimes_are_shown_in_helsinki_time_across_dst() -> None:
    with i18n.language("fi"):
        summer = i18n.format_datetime(datetime(2026, 6, 19, 9, 0, tzinfo=UTC))
        winter = i18n.format_datetime(datetime(2026, 12, 18, 9, 0, tzinfo=UTC))
    assert "12.00" in summer or "12:00" in summer
    assert "11.00" in winter or "11:00" in winter


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "fi"),
        ("sv-FI,sv;q=0.9", "sv"),
        ("de-DE,en;q=0.5", "en"),
        ("de", "fi"),
        ("en;q=0.2,fi;q=0.8", "fi"),
    ],
)
def test_language_from_accept_language(header: str | None, language: str) -> None:
    assert i18n.pick_language(header) == language
