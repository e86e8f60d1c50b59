"""Files the firm takes out: CSV that Excel in Finnish opens as it is, and the values in it.

Every CSV of the app (invoices, the sales summary, the lists' exports, the firm's whole export)
is written here: semicolons (Finnish Excel's list separator, since the decimal separator is a
comma), CRLF line ends, UTF-8 with a byte order mark, amounts with a decimal comma and dates as
d.m.yyyy. A cell that a spreadsheet would read as a formula (it starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return) gets a leading apostrophe, so that a name typed by a
client can never run as a formula on the firm's computer (OWASP's "CSV injection"). Numbers
the export writes itself (amounts, counts) are not text typed by anyone and are left as they
are, so that a negative amount stays a number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Number(str):
    """A cell the export computed (an amount, a count): written as it is, never guarded."""

    __slots__ = ()


def safe_cell(value: object) -> str:
    """The text of one cell: a :class:`Number` as it is, anything else with a leading
    apostrophe when it starts like a formula."""
    if value is None:
        return ""
    if isinstance(value, Number | int) and not isinstance(value, bool):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_euros(cents: int) -> Number:
    """1234,50 and -12,00: the decimal comma, no grouping, as Finnish Excel reads a number."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return Number(f"{sign}{whole},{part:02d}")


def csv_hours(minutes: int) -> Number:
    """Minutes as hours with a decimal comma: 90 -> 1,5; 100 -> 1,67."""
    return Number(f"{minutes / 60:.2f}".rstrip("0").rstrip(".").replace(".", ","))


def csv_day(day: date | None) -> str:
    """d.m.yyyy, or empty."""
    return f"{day.day}.{day.month}.{day.year}" if day else ""


def csv_bytes(rows: Iterable[Sequence[object]]) -> bytes:
    """Rows as a CSV file (see the module's docstring), every cell through :func:`safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
