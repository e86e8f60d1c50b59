"""Translations (fi default, sv, en) and locale-aware formatting with Babel.

The catalogs are the ``.po`` files under ``luotsi/locale``; they are compiled in memory when
first used, so no compiled ``.mo`` files are kept in the repository. The current language lives
in a context variable that the web layer sets per request and the mailer per recipient.
"""

from __future__ import annotations

import enum
import gettext as _gettext
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime, time
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Self

from babel import Locale
from babel.dates import format_date as _format_date
from babel.dates import format_datetime as _format_datetime
from babel.dates import format_time as _format_time
from babel.dates import get_day_names
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from luotsi.platform.clock import HELSINKI

LANGUAGES = ("fi", "sv", "en")
DEFAULT_LANGUAGE = "fi"
LANGUAGE_NAMES = {"fi": "Suomi", "sv": "Svenska", "en": "English"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_current: ContextVar[str] = ContextVar("luotsi_language", default=DEFAULT_LANGUAGE)


@cache
def translations(language: str) -> _gettext.NullTranslations:
    po_path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return _gettext.NullTranslations()
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return _gettext.GNUTranslations(buffer)


def current_language() -> str:
    return _current.get()


def set_language(language: str) -> None:
    _current.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)


@contextmanager
def language(lang: str) -> Iterator[None]:
    token = _current.set(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def pgettext(context: str, message: str) -> str:
    """``message`` as meant in ``context`` ("invoice": an invoice's due date is *eräpäivä*, an
    assignment's *määräpäivä*)."""
    return translations(_current.get()).pgettext(context, message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


class LabelledEnum(enum.StrEnum):
    """A stored value with a translated label, written together: ``ACTIVE = "active",
    N_("Active")``. ``member.label`` is the label in the current language; looking a member up
    by its value (``Status("active")``) works as for any enum."""

    _label: str

    def __new__(cls, value: str, label: str = "") -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member._label = label
        return member

    @property
    def label(self) -> str:
        return gettext(self._label)


def pick_language(accept_language: str | None) -> str:
    """The first of our languages named in an ``Accept-Language`` header, else Finnish."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    weighted: list[tuple[float, str]] = []
    for part in accept_language.split(","):
        tag, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((quality, tag.split("-")[0].lower()))
    for _q, tag in sorted(weighted, key=lambda pair: -pair[0]):
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


# Parsed once: Locale.parse per formatted value was a third of a date's formatting time.
_LOCALES = {lang: Locale.parse(f"{lang}_FI") for lang in LANGUAGES}


def _locale() -> Locale:
    return _LOCALES[_current.get()]


def format_date(value: date | datetime | None, format: str = "short") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(HELSINKI).date()
    if format == "short":
        # Finnish and Swedish as written in Finland (4.12.2026: CLDR's Swedish short date is
        # the ISO form); English with the month's name, which no reader can take for 12 April.
        if _current.get() == "en":
            return _format_date(value, format="medium", locale=_locale())
        return f"{value.day}.{value.month}.{value.year}"
    return _format_date(value, format=format, locale=_locale())


def format_datetime(value: datetime | None, format: str = "short") -> str:
    """A moment in Helsinki: the short form is the short date and the time of day."""
    if value is None:
        return ""
    if format == "short":
        return f"{format_date(value.astimezone(HELSINKI))} {format_time(value)}"
    return _format_datetime(value, format=format, tzinfo=HELSINKI, locale=_locale())


def format_time(value: datetime | time | None, format: str = "short") -> str:
    """The time of day in Helsinki (10.00 in Finnish, 10:00 in Swedish and English); a bare
    time of day (working hours) is Helsinki time already."""
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return _format_time(value, format=format, locale=_locale())
    return _format_time(value, format=format, tzinfo=HELSINKI, locale=_locale())


def weekday_name(weekday: int) -> str:
    """The weekday's name on its own ("maanantai", "måndag"; 0 is Monday)."""
    return str(get_day_names("wide", context="stand-alone", locale=_locale())[weekday])


def format_money(cents: int) -> str:
    return format_currency(cents / 100, "EUR", locale=_locale())


def format_number(value: float | int) -> str:
    if type(value) is int and 0 <= value < 1000:  # no grouping, no minus sign: as it is
        return str(value)
    return format_decimal(value, locale=_locale())


_NUMBER_PLACEHOLDER = re.compile(r"%\((\w+)\)d")


def interpolate(
    message: str,
    values: Mapping[str, object],
    escape: Callable[[object], object] | None = None,
) -> str:
    """``message % values`` with every number written the reader's way (20 000 in Finnish and
    Swedish, not 20,000); other values go through ``escape`` when given (templates). A
    ``%(n)d`` placeholder takes the formatted number as text, so the catalogs keep theirs."""
    formatted = {
        key: format_number(value)
        if isinstance(value, int | float) and not isinstance(value, bool)
        else (escape(value) if escape else value)
        for key, value in values.items()
    }
    return _NUMBER_PLACEHOLDER.sub(r"%(\1)s", message) % formatted


def too_long(limit: int) -> str:
    """The form error for text longer than ``limit`` characters."""
    return interpolate(gettext("Shorten this to %(n)d characters."), {"n": limit})


def parse_date(raw: str) -> date | None:
    """A date as a form sends it: ``2026-12-03`` (a date input) or typed as ``3.12.2026``;
    None for anything else (ASCII digits only)."""
    raw = raw.strip()
    parsed = None
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            parsed = date.fromisoformat(raw)
        match = re.fullmatch(r"([0-9]{1,2})\.([0-9]{1,2})\.([0-9]{4})", raw)
        if match:
            day, month, year = (int(g) for g in match.groups())
            parsed = date(year, month, day)
    except ValueError:
        return None
    # Years far off are typing mistakes (and would overflow time zone arithmetic).
    return parsed if parsed is not None and 1900 <= parsed.year <= 2999 else None


def parse_time(raw: str) -> time | None:
    """A time of day as a form sends it: ``10:00`` (a time input) or typed as ``10.00``."""
    match = re.fullmatch(r"([0-9]{1,2})[:.]([0-9]{2})", raw.strip())
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    return time(hour, minute) if hour < 24 and minute < 60 else None
